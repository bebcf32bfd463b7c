{#-
  Join-month cohorts: for each month since joining (0, 1, ... up to the as-of month), the share of
  the cohort still active at the end of that month (or on the as-of date for the current month).
-#}
with

alunos as (

    select * from {{ ref('stg_app__alunos') }}

),

periodos as (

    select * from {{ ref('int_alunos_status_periodos') }}

),

as_of as (

    select {{ as_of_date() }} as data_observacao

),

coortes as (

    select
        aluno_id,
        cast(date_trunc('month', data_matricula) as date) as mes_coorte
    from alunos
    cross join as_of
    -- synthetic students try the model; they are not a join month's members
    where data_matricula <= as_of.data_observacao and not alunos.is_sintetico

),

tamanho as (

    select mes_coorte, count(*) as count_alunos_coorte
    from coortes
    group by mes_coorte

),

meses as (

    select
        tamanho.mes_coorte,
        tamanho.count_alunos_coorte,
        cast(meses_desde_matricula as integer) as meses_desde_matricula,
        least(
            cast(
                tamanho.mes_coorte + (meses_desde_matricula + 1) * interval '1 month'
                - interval '1 day'
                as date
            ),
            as_of.data_observacao
        ) as data_medicao
    from tamanho
    cross join as_of
    cross join generate_series(
        0,
        (
            extract(year from age(date_trunc('month', as_of.data_observacao), tamanho.mes_coorte))
            * 12
            + extract(
                month from age(date_trunc('month', as_of.data_observacao), tamanho.mes_coorte)
            )
        )::integer
    ) as meses_desde_matricula

),

ativos as (

    select
        meses.mes_coorte,
        meses.meses_desde_matricula,
        count(distinct coortes.aluno_id) as count_alunos_ativos
    from meses
    inner join coortes on coortes.mes_coorte = meses.mes_coorte
    inner join periodos
        on periodos.aluno_id = coortes.aluno_id
        and periodos.data_inicio <= meses.data_medicao
        and (periodos.data_fim is null or periodos.data_fim > meses.data_medicao)
    group by meses.mes_coorte, meses.meses_desde_matricula

),

final as (

    select
        meses.mes_coorte,
        meses.meses_desde_matricula,
        meses.data_medicao,
        cast(meses.count_alunos_coorte as integer) as count_alunos_coorte,
        cast(coalesce(ativos.count_alunos_ativos, 0) as integer) as count_alunos_ativos,
        cast(
            round(coalesce(ativos.count_alunos_ativos, 0)::numeric / meses.count_alunos_coorte, 4)
            as numeric(6, 4)
        ) as taxa_retencao
    from meses
    left join ativos
        on ativos.mes_coorte = meses.mes_coorte
        and ativos.meses_desde_matricula = meses.meses_desde_matricula

)

select * from final
