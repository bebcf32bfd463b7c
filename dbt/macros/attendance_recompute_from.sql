{#-
  The first gym-local day an incremental attendance mart recomputes: the earliest day of the
  int_visits rows written after the mart's last build (int_visits.processado_em newer than the
  mart's own max(processado_em)), as a date literal; 'infinity' when there is none. Run at
  compile time and again when the pre-hook is rendered: nothing between the two changes
  int_visits (upstream, already built) or the mart (only its own run writes it), so both get the
  same day. Two small queries with literals, so PostgreSQL reads the night's rows through the
  index on int_visits.processado_em; the fence (offset 0) keeps it from walking the data_local
  index from the first day looking for them.
-#}
{% macro attendance_recompute_from(relation) -%}
    {%- if not execute -%}
        {{- return("cast('infinity' as date)") -}}
    {%- endif -%}
    {%- set built_until = max_timestamptz_literal(relation, 'processado_em') -%}
    {%- set query -%}
        select coalesce(min(v.data_local), 'infinity'::date)::text
        from (
            select data_local
            from {{ ref('int_visits') }}
            {%- if built_until %}
            where processado_em > {{ built_until }}
            {%- endif %}
            offset 0
        ) as v
    {%- endset -%}
    {%- set day = run_query(query).columns[0].values()[0] -%}
    {{- return("cast('" ~ day ~ "' as date)") -}}
{%- endmacro %}

{#- pre-hook of the attendance marts: drop the days this run recomputes (then appended). -#}
{% macro attendance_prune() -%}
    {%- if is_incremental() -%}
        delete from {{ this }} where data_local >= {{ attendance_recompute_from(this) }}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}
