{#- The as-of date of a build as a SQL date expression: var('as_of') or today in the gym's zone. -#}
{% macro as_of_date() -%}
    {%- if var('as_of', none) -%}
        cast('{{ var("as_of") }}' as date)
    {%- else -%}
        cast(current_timestamp at time zone '{{ var("gym_timezone") }}' as date)
    {%- endif -%}
{%- endmacro %}

{#- A timestamptz as a gym-local date. -#}
{% macro local_date(column) -%}
    cast({{ column }} at time zone '{{ var("gym_timezone") }}' as date)
{%- endmacro %}
