with

visitas as (

    select * from {{ ref('int_visits') }}
    where evento = 'visita'

),

final as (

    select
        data_local,
        hora_local,
        cast(extract(isodow from data_local) as integer) as dia_semana,
        cast(count(*) as integer) as count_entradas,
        cast(count(distinct aluno_id) as integer) as count_alunos_distintos,
        cast(round(avg(duracao_minutos), 1) as numeric(10, 1)) as duracao_media_minutos
    from visitas
    group by data_local, hora_local

)

select * from final
