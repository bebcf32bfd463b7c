{#-
  Active periods of each member from the append-only status history: [inicio, fim), fim null
  while still active. Repeated events of the same state (activated twice) collapse into one.
-#}
with

status as (

    select * from {{ ref('stg_app__status_historico') }}

),

with_previous as (

    select
        aluno_id,
        is_ativo,
        ocorrido_em,
        status_id,
        lag(is_ativo) over (
            partition by aluno_id order by ocorrido_em, status_id
        ) as is_ativo_anterior
    from status

),

transitions as (

    select aluno_id, is_ativo, ocorrido_em, status_id
    from with_previous
    where is_ativo_anterior is null or is_ativo_anterior <> is_ativo

),

periods as (

    select
        aluno_id,
        is_ativo,
        status_id,
        ocorrido_em as inicio_em,
        lead(ocorrido_em) over (
            partition by aluno_id order by ocorrido_em, status_id
        ) as fim_em,
        row_number() over (
            partition by aluno_id, is_ativo order by ocorrido_em, status_id
        ) as numero_periodo
    from transitions

),

final as (

    select
        status_id as periodo_id,
        aluno_id,
        cast(numero_periodo as integer) as numero_periodo,
        inicio_em,
        fim_em,
        {{ local_date('inicio_em') }} as data_inicio,
        {{ local_date('fim_em') }} as data_fim
    from periods
    where is_ativo

)

select * from final
