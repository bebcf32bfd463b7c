{#-
  The churn features, written once: churn_features (the nightly table: training snapshots and
  the scoring row) and churn_features_atuais (a view: the scoring row on live data, for the API)
  both call this macro, so training and on-demand scoring cannot drift apart.

  Arguments are relation or CTE names (or parenthesised subqueries with an alias):
    datas_referencia  data_referencia (date), tipo_linha ('treino' | 'pontuacao')
    visitas           aluno_id, data_local (gym-local date), duracao_minutos; visits only
                      (evento = 'visita'). The features read the visits of the
                      churn_features_lookback_days() days up to data_referencia, plus the last
                      visit on or before it (dias_desde_ultima_visita), nothing else.
    periodos          aluno_id, data_inicio, data_fim: active periods [data_inicio, data_fim)
    alunos            aluno_id, plano_id, data_matricula (gym-local date)
    planos            plano_id, plano, duracao_meses
    data_observacao   a SQL date expression: the as-of date up to which labels are observed
  Output: one row per member active on each data_referencia, the columns of churn_features.

  Every CTE here is referenced once, so PostgreSQL inlines them and a filter on aluno_id
  (`where aluno_id = 123` on the view) reaches the app tables' indexes: every join, group by and
  window is keyed by aluno_id.
-#}

{#- How far back (days, data_referencia included) the window features read. -#}
{% macro churn_features_lookback_days() -%}
    90
{%- endmacro %}

{% macro churn_feature_rows(datas_referencia, visitas, periodos, alunos, planos, data_observacao) -%}
{%- set horizon = var('churn_horizon_days') | int -%}
{%- set lookback = churn_features_lookback_days() | trim | int -%}
with

-- members active on each date: data_inicio <= d < data_fim
cf_ativos as (

    select
        periodos.aluno_id,
        datas_referencia.data_referencia,
        datas_referencia.tipo_linha,
        periodos.data_fim
    from {{ datas_referencia }} as datas_referencia
    inner join {{ periodos }} as periodos
        on periodos.data_inicio <= datas_referencia.data_referencia
        and (periodos.data_fim is null or periodos.data_fim > datas_referencia.data_referencia)

),

cf_visitas_diarias as (

    select
        aluno_id,
        data_local,
        count(*) as count_visitas,
        sum(duracao_minutos) as soma_duracao,
        count(duracao_minutos) as count_com_duracao
    from {{ visitas }} as visitas
    group by aluno_id, data_local

),

-- windows over the {{ lookback }} days up to and including data_referencia, and the last visit
-- on or before it (any age)
cf_janelas as (

    select
        ativos.aluno_id,
        ativos.data_referencia,
        ativos.tipo_linha,
        ativos.data_fim,
        coalesce(sum(vd.count_visitas) filter (
            where vd.data_local > ativos.data_referencia - 28
        ), 0) as visitas_4_semanas,
        coalesce(sum(vd.count_visitas) filter (
            where vd.data_local <= ativos.data_referencia - 28
            and vd.data_local > ativos.data_referencia - 84
        ), 0) as visitas_8_semanas_anteriores,
        sum(vd.soma_duracao) filter (where vd.data_local > ativos.data_referencia - {{ lookback }})
        / nullif(
            sum(vd.count_com_duracao) filter (
                where vd.data_local > ativos.data_referencia - {{ lookback }}
            ),
            0
        ) as duracao_media_minutos,
        count(distinct floor((ativos.data_referencia - vd.data_local) / 7)) filter (
            where vd.data_local > ativos.data_referencia - 56
        ) as semanas_com_visita_8,
        max(vd.data_local) as data_ultima_visita
    from cf_ativos as ativos
    left join cf_visitas_diarias as vd
        on vd.aluno_id = ativos.aluno_id
        and vd.data_local <= ativos.data_referencia
    group by ativos.aluno_id, ativos.data_referencia, ativos.tipo_linha, ativos.data_fim

),

cf_com_contrato as (

    select
        janelas.*,
        alunos.data_matricula,
        planos.plano,
        planos.duracao_meses,
        -- whole months since joining, then the end of the contract period running on the date
        (
            extract(year from age(janelas.data_referencia, alunos.data_matricula)) * 12
            + extract(month from age(janelas.data_referencia, alunos.data_matricula))
        ) as meses_de_casa
    from cf_janelas as janelas
    inner join {{ alunos }} as alunos on alunos.aluno_id = janelas.aluno_id
    inner join {{ planos }} as planos on planos.plano_id = alunos.plano_id

)

select
    cast(c.aluno_id as bigint) as aluno_id,
    cast(c.data_referencia as date) as data_referencia,
    cast(c.tipo_linha as text) as tipo_linha,
    cast(c.tipo_linha = 'pontuacao' as boolean) as is_scoring_row,

    ---------- plan (seed)
    cast(c.plano as text) as plano,
    cast(c.duracao_meses as integer) as duracao_meses,

    ---------- attendance (seed)
    cast(round(c.visitas_4_semanas / 4.0, 2) as numeric(8, 2)) as visitas_semana,
    cast(c.data_referencia - c.data_ultima_visita as integer) as dias_desde_ultima_visita,
    cast(round(c.duracao_media_minutos, 1) as numeric(10, 1)) as duracao_media_minutos,

    ---------- tenure and contract
    cast(c.data_referencia - c.data_matricula as integer) as dias_de_casa,
    -- The first renewal strictly after the date. Counting whole months can land on the date
    -- itself when the join day does not exist in the month (joined Jan 31 → Feb 28): then it
    -- is the following one.
    cast(
        cast(
            c.data_matricula
            + (
                floor(c.meses_de_casa / c.duracao_meses) + 1
                + case
                    when cast(
                        c.data_matricula
                        + (floor(c.meses_de_casa / c.duracao_meses) + 1) * c.duracao_meses
                        * interval '1 month'
                        as date
                    ) <= c.data_referencia then 1
                    else 0
                end
            ) * c.duracao_meses * interval '1 month'
            as date
        ) - c.data_referencia
        as integer
    ) as dias_para_fim_contrato,

    ---------- trend and regularity
    cast(c.visitas_4_semanas as integer) as visitas_4_semanas,
    cast(c.visitas_8_semanas_anteriores as integer) as visitas_8_semanas_anteriores,
    cast(
        round(c.visitas_4_semanas / 4.0 - c.visitas_8_semanas_anteriores / 8.0, 2)
        as numeric(8, 2)
    ) as tendencia_visitas_semana,
    cast(
        round(
            (c.visitas_4_semanas / 4.0) / nullif(c.visitas_8_semanas_anteriores / 8.0, 0), 3
        ) as numeric(10, 3)
    ) as razao_tendencia,
    cast(round(c.semanas_com_visita_8 / 8.0, 3) as numeric(5, 3)) as regularidade_8_semanas,

    ---------- label
    cast(
        case
            when c.data_referencia + {{ horizon }} > {{ data_observacao }} then null
            when c.data_fim is not null
                and c.data_fim <= c.data_referencia + {{ horizon }} then 1
            else 0
        end as integer
    ) as churn_30d

from cf_com_contrato as c
{%- endmacro %}
