{#-
  The churn feature table: one row per (aluno_id, data_referencia) for members active on that
  gym-local date. ONE definition for training and scoring:
    - training rows: every Sunday from the month of the first visit up to the as-of date;
    - the scoring row: the as-of date itself (var('as_of'), or today in the gym's zone).
  Every feature reads only events on or before data_referencia (`data_local <= data_referencia`);
  data-tests/assert_churn_features_use_no_future_events.sql checks it.
  Incremental (macros/churn_features_window.sql): a nightly run rebuilds only the snapshots
  whose label can still change and the scoring date; a backtest or --full-refresh rebuilds all.
  Label churn_30d: 1 when the member's active period ends (cancellation) within the 30 days after
  data_referencia, 0 when it does not, null when those 30 days are not fully observed yet
  (data_referencia + 30 > as-of date).
-#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['aluno_id', 'data_referencia'],
        on_schema_change='fail',
        pre_hook="{{ churn_features_prune() }}",
    )
}}
{%- set horizon = var('churn_horizon_days') | int %}

with

alunos as (

    select * from {{ ref('stg_app__alunos') }}

),

planos as (

    select * from {{ ref('stg_app__planos') }}

),

periodos as (

    select * from {{ ref('int_alunos_status_periodos') }}

),

visitas as (

    select * from {{ ref('int_visits') }}
    where evento = 'visita'

),

as_of as (

    select {{ as_of_date() }} as data_observacao

),

datas_referencia as (

    select
        cast(domingo as date) as data_referencia,
        'treino' as tipo_linha
    from as_of
    cross join generate_series(
        (select cast(date_trunc('month', min(data_local)) as date) from visitas),
        as_of.data_observacao - 1,
        interval '1 day'
    ) as domingo
    where extract(isodow from domingo) = 7
    {%- if not churn_features_rebuilds_all() %}
        and domingo >= {{ churn_features_recompute_from() }}
    {%- endif %}

    union all

    select data_observacao as data_referencia, 'pontuacao' as tipo_linha
    from as_of

),

-- members active on each date: data_inicio <= d < data_fim
ativos as (

    select
        periodos.aluno_id,
        datas_referencia.data_referencia,
        datas_referencia.tipo_linha,
        periodos.data_fim
    from datas_referencia
    inner join periodos
        on periodos.data_inicio <= datas_referencia.data_referencia
        and (periodos.data_fim is null or periodos.data_fim > datas_referencia.data_referencia)

),

visitas_diarias as (

    select
        aluno_id,
        data_local,
        count(*) as count_visitas,
        sum(duracao_minutos) as soma_duracao,
        count(duracao_minutos) as count_com_duracao
    from visitas
    group by aluno_id, data_local

),

-- windows over the 90 days up to and including data_referencia
janelas as (

    select
        ativos.aluno_id,
        ativos.data_referencia,
        coalesce(sum(vd.count_visitas) filter (
            where vd.data_local > ativos.data_referencia - 28
        ), 0) as visitas_4_semanas,
        coalesce(sum(vd.count_visitas) filter (
            where vd.data_local <= ativos.data_referencia - 28
            and vd.data_local > ativos.data_referencia - 84
        ), 0) as visitas_8_semanas_anteriores,
        sum(vd.soma_duracao) / nullif(sum(vd.count_com_duracao), 0) as duracao_media_minutos,
        count(distinct floor((ativos.data_referencia - vd.data_local) / 7)) filter (
            where vd.data_local > ativos.data_referencia - 56
        ) as semanas_com_visita_8
    from ativos
    left join visitas_diarias as vd
        on vd.aluno_id = ativos.aluno_id
        and vd.data_local <= ativos.data_referencia
        and vd.data_local > ativos.data_referencia - 90
    group by ativos.aluno_id, ativos.data_referencia

),

ultima_visita as (

    select
        ativos.aluno_id,
        ativos.data_referencia,
        max(vd.data_local) as data_ultima_visita
    from ativos
    inner join visitas_diarias as vd
        on vd.aluno_id = ativos.aluno_id
        and vd.data_local <= ativos.data_referencia
    group by ativos.aluno_id, ativos.data_referencia

),

com_contrato as (

    select
        ativos.*,
        alunos.data_matricula,
        planos.plano,
        planos.duracao_meses,
        -- whole months since joining, then the end of the contract period running on the date
        (
            extract(year from age(ativos.data_referencia, alunos.data_matricula)) * 12
            + extract(month from age(ativos.data_referencia, alunos.data_matricula))
        ) as meses_de_casa
    from ativos
    inner join alunos on alunos.aluno_id = ativos.aluno_id
    inner join planos on planos.plano_id = alunos.plano_id

),

final as (

    select
        cast(c.aluno_id as bigint) as aluno_id,
        cast(c.data_referencia as date) as data_referencia,
        cast(c.tipo_linha as text) as tipo_linha,
        cast(c.tipo_linha = 'pontuacao' as boolean) as is_scoring_row,

        ---------- plan (seed)
        cast(c.plano as text) as plano,
        cast(c.duracao_meses as integer) as duracao_meses,

        ---------- attendance (seed)
        cast(round(j.visitas_4_semanas / 4.0, 2) as numeric(8, 2)) as visitas_semana,
        cast(c.data_referencia - u.data_ultima_visita as integer) as dias_desde_ultima_visita,
        cast(round(j.duracao_media_minutos, 1) as numeric(10, 1)) as duracao_media_minutos,

        ---------- tenure and contract
        cast(c.data_referencia - c.data_matricula as integer) as dias_de_casa,
        cast(
            cast(
                c.data_matricula
                + (floor(c.meses_de_casa / c.duracao_meses) + 1) * c.duracao_meses
                * interval '1 month'
                as date
            ) - c.data_referencia
            as integer
        ) as dias_para_fim_contrato,

        ---------- trend and regularity
        cast(j.visitas_4_semanas as integer) as visitas_4_semanas,
        cast(j.visitas_8_semanas_anteriores as integer) as visitas_8_semanas_anteriores,
        cast(
            round(j.visitas_4_semanas / 4.0 - j.visitas_8_semanas_anteriores / 8.0, 2)
            as numeric(8, 2)
        ) as tendencia_visitas_semana,
        cast(
            round(
                (j.visitas_4_semanas / 4.0) / nullif(j.visitas_8_semanas_anteriores / 8.0, 0), 3
            ) as numeric(10, 3)
        ) as razao_tendencia,
        cast(round(j.semanas_com_visita_8 / 8.0, 3) as numeric(5, 3)) as regularidade_8_semanas,

        ---------- label
        cast(
            case
                when c.data_referencia + {{ horizon }} > a.data_observacao then null
                when c.data_fim is not null
                    and c.data_fim <= c.data_referencia + {{ horizon }} then 1
                else 0
            end as integer
        ) as churn_30d

    from com_contrato as c
    cross join as_of as a
    inner join janelas as j
        on j.aluno_id = c.aluno_id and j.data_referencia = c.data_referencia
    left join ultima_visita as u
        on u.aluno_id = c.aluno_id and u.data_referencia = c.data_referencia

)

select * from final
