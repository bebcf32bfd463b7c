{#-
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
        cast(count(*) filter (where evento = 'visita') as integer) as count_visitas,
        cast(count(distinct aluno_id) filter (where evento = 'visita') as integer)
            as count_alunos_distintos,
        cast(round(avg(duracao_minutos) filter (where evento = 'visita'), 1) as numeric(10, 1))
            as duracao_media_minutos,
        cast(count(*) filter (where evento = 'visita' and saida is null) as integer)
            as count_visitas_sem_saida,
        cast(count(*) filter (where evento = 'saida_sem_entrada') as integer)
            as count_saidas_sem_entrada,
        max(processado_em) as processado_em
    from visitas
    group by data_local

)

select * from final
