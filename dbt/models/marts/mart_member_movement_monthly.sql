{#-
  Net member movement per gym-calendar month, from the active periods [data_inicio, data_fim)
  of int_alunos_status_periodos, synthetic students left out: members at the start, joins,
  reactivations, cancellations, members at the end, the IHRSA monthly attrition and the
  12-month retention. The current month is counted up to the as-of date. The formulas are in
  mart_member_movement_monthly.yml.
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

periodos_do_ginasio as (

    select
        periodos.aluno_id,
        periodos.numero_periodo,
        periodos.data_inicio,
        periodos.data_fim
    from periodos
    inner join alunos on periodos.aluno_id = alunos.aluno_id
    cross join as_of
    where
        not alunos.is_sintetico
        and periodos.data_inicio <= as_of.data_observacao

),

meses as (

    select
        cast(mes as date) as mes,
        least(
            cast(mes + interval '1 month' - interval '1 day' as date), as_of.data_observacao
        ) as data_fim_medicao,
        cast(mes + interval '1 month' - interval '1 day' as date) as ultimo_dia
    from as_of
    cross join generate_series(
        (select date_trunc('month', cast(min(data_inicio) as timestamp)) from periodos_do_ginasio),
        date_trunc('month', cast(as_of.data_observacao as timestamp)),
        interval '1 month'
    ) as mes

),

movimento as (

    -- Active at the start of a month = active at the end of the day before it (data_fim >=
    -- mes): a join on the 1st is a join of that month, a cancellation on the 1st one of it.
    select
        meses.mes,
        meses.data_fim_medicao,
        meses.data_fim_medicao = meses.ultimo_dia as is_mes_completo,
        count(periodos.aluno_id) filter (
            where periodos.data_inicio < meses.mes
        ) as ativos_inicio,
        count(periodos.aluno_id) filter (
            where periodos.data_inicio >= meses.mes and periodos.numero_periodo = 1
        ) as matriculas,
        count(periodos.aluno_id) filter (
            where periodos.data_inicio >= meses.mes and periodos.numero_periodo > 1
        ) as reativacoes,
        count(periodos.aluno_id) filter (
            where periodos.data_fim <= meses.data_fim_medicao
        ) as cancelamentos,
        count(periodos.aluno_id) filter (
            where periodos.data_fim is null or periodos.data_fim > meses.data_fim_medicao
        ) as ativos_fim
    from meses
    -- every period active at some moment from the start of the month to data_fim_medicao
    left join periodos_do_ginasio as periodos
        on periodos.data_inicio <= meses.data_fim_medicao
        and (periodos.data_fim is null or periodos.data_fim >= meses.mes)
    group by meses.mes, meses.data_fim_medicao, meses.ultimo_dia

),

retidos as (

    -- Retained: the same active period covers the start of the month 12 months earlier and the
    -- start of this one; a member who cancelled and came back in between left.
    select
        meses.mes,
        count(*) as retidos_12m
    from meses
    inner join periodos_do_ginasio as periodos
        on periodos.data_inicio < cast(meses.mes - interval '12 months' as date)
        and (periodos.data_fim is null or periodos.data_fim >= meses.mes)
    group by meses.mes

),

final as (

    select
        movimento.mes,
        movimento.data_fim_medicao,
        movimento.is_mes_completo,
        cast(movimento.ativos_inicio as integer) as ativos_inicio,
        cast(movimento.matriculas as integer) as matriculas,
        cast(movimento.reativacoes as integer) as reativacoes,
        cast(movimento.cancelamentos as integer) as cancelamentos,
        cast(movimento.ativos_fim as integer) as ativos_fim,
        cast(
            round(movimento.cancelamentos::numeric / nullif(movimento.ativos_inicio, 0), 4)
            as numeric(8, 4)
        ) as taxa_churn_mensal,
        cast(ano_anterior.ativos_inicio as integer) as ativos_inicio_12m_antes,
        cast(
            case when ano_anterior.mes is not null then coalesce(retidos.retidos_12m, 0) end
            as integer
        ) as retidos_12m,
        cast(
            round(
                coalesce(retidos.retidos_12m, 0)::numeric / nullif(ano_anterior.ativos_inicio, 0),
                4
            )
            as numeric(8, 4)
        ) as retencao_12m
    from movimento
    left join movimento as ano_anterior
        on ano_anterior.mes = cast(movimento.mes - interval '12 months' as date)
    left join retidos on movimento.mes = retidos.mes

)

select * from final
