{#-
  Incremental by day, like fct_attendance_daily (macros/attendance_recompute_from.sql): the
  pre-hook deletes every day from the earliest day int_visits rewrote since this table was last
  built, and the model recomputes those days' hours.
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
    where evento = 'visita'
    {% if is_incremental() %}
        and data_local >= {{ attendance_recompute_from(this) }}
    {% endif %}

),

final as (

    select
        data_local,
        hora_local,
        cast(extract(isodow from data_local) as integer) as dia_semana,
        cast(count(*) as integer) as count_entradas,
        cast(count(distinct aluno_id) as integer) as count_alunos_distintos,
        cast(round(avg(duracao_minutos), 1) as numeric(10, 1)) as duracao_media_minutos,
        max(processado_em) as processado_em
    from visitas
    group by data_local, hora_local

)

select * from final
