{#-
  The day's totals are the macro attendance_totals (serving/sql/attendance_totals.sql), which the
  daily report (serving/reports.py) renders too.
  Incremental by day (macros/attendance_recompute_from.sql): the days to recompute start at the
  earliest day that int_visits rewrote since this table was last built; the pre-hook deletes
  every day from there on, so a day whose visits all went away does not linger, and the model
  appends those days again (in the same transaction; a delete by key would find nothing).
-#}
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook="{{ attendance_prune() }}",
    )
}}

with

visitas as (

    select * from {{ ref('int_visits') }}
    {% if is_incremental() %}
    where data_local >= {{ attendance_recompute_from(this) }}
    {% endif %}

),

final as (

    select
        data_local,
        cast(extract(isodow from data_local) as integer) as dia_semana,
        -- the totals the daily report shows too (serving/sql/attendance_totals.sql)
        {{ attendance_totals() | indent(8) }},
        max(processado_em) as processado_em
    from visitas
    group by data_local

)

select * from final
