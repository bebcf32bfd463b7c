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
{#- The longest window (the 8 weeks before the last 4) must fit in what the incremental build
    reads (churn_features_window.sql). -#}
{%- if lookback < 84 -%}
    {{ exceptions.raise_compiler_error(
        "churn_features_lookback_days() = " ~ lookback ~ " is shorter than the 84-day windows"
    ) }}
{%- endif -%}
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
-- on or before it (any age). A window of n days is the n local dates d - n + 1 .. d, so a visit
-- exactly n days back is in the next one.
cf_janelas as (

    select
        ativos.aluno_id,
        ativos.data_referencia,
        ativos.tipo_linha,
        ativos.data_fim,
        {%- for dias in (7, 14, 28, 56) %}
        coalesce(sum(vd.count_visitas) filter (
            where vd.data_local > ativos.data_referencia - {{ dias }}
        ), 0) as visitas_{{ dias }}_dias,
        {%- endfor %}
        coalesce(sum(vd.count_visitas) filter (
            where vd.data_local <= ativos.data_referencia - 28
            and vd.data_local > ativos.data_referencia - 84
        ), 0) as visitas_8_semanas_anteriores,
        {%- for dias in (28, lookback) %}
        sum(vd.soma_duracao) filter (where vd.data_local > ativos.data_referencia - {{ dias }})
        / nullif(
            sum(vd.count_com_duracao) filter (
                where vd.data_local > ativos.data_referencia - {{ dias }}
            ),
            0
        ) as duracao_media_{{ dias }}_dias,
        {%- endfor %}
        {%- for semanas in (4, 8) %}
        count(distinct floor((ativos.data_referencia - vd.data_local) / 7)) filter (
            where vd.data_local > ativos.data_referencia - {{ semanas * 7 }}
        ) as semanas_com_visita_{{ semanas }},
        {%- endfor %}
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
        -- whole months since joining, then the contract period running on the date
        (
            extract(year from age(janelas.data_referencia, alunos.data_matricula)) * 12
            + extract(month from age(janelas.data_referencia, alunos.data_matricula))
        ) as meses_de_casa
    from cf_janelas as janelas
    inner join {{ alunos }} as alunos on alunos.aluno_id = janelas.aluno_id
    inner join {{ planos }} as planos on planos.plano_id = alunos.plano_id

),

-- The renewals (join date + k × plan months) on or before the date: the current period runs
-- from the last of them to the next. Counting whole months can miss the renewal on the date
-- itself when the join day does not exist in the month (joined Jan 31 → Feb 28): then the
-- period that starts on the date is the current one.
cf_periodo_contrato as (

    select
        contrato.*,
        floor(contrato.meses_de_casa / contrato.duracao_meses)
        + case
            when cast(
                contrato.data_matricula
                + (floor(contrato.meses_de_casa / contrato.duracao_meses) + 1)
                * contrato.duracao_meses * interval '1 month'
                as date
            ) <= contrato.data_referencia then 1
            else 0
        end as renovacoes
    from cf_com_contrato as contrato

),

cf_com_periodo as (

    select
        periodo.*,
        cast(
            periodo.data_matricula
            + periodo.renovacoes * periodo.duracao_meses * interval '1 month' as date
        ) as inicio_periodo_contrato,
        cast(
            periodo.data_matricula
            + (periodo.renovacoes + 1) * periodo.duracao_meses * interval '1 month' as date
        ) as fim_periodo_contrato
    from cf_periodo_contrato as periodo

)

select
    cast(c.aluno_id as bigint) as aluno_id,
    cast(c.data_referencia as date) as data_referencia,
    cast(c.tipo_linha as text) as tipo_linha,
    cast(c.tipo_linha = 'pontuacao' as boolean) as is_scoring_row,

    ---------- plan (seed)
    cast(c.plano as text) as plano,
    cast(c.duracao_meses as integer) as duracao_meses,

    ---------- recency and visit length (seed); no completed visit in the window: null
    cast(c.data_referencia - c.data_ultima_visita as integer) as dias_desde_ultima_visita,
    cast(round(c.duracao_media_{{ lookback }}_dias, 1) as numeric(10, 1)) as duracao_media_minutos,
    cast(round(c.duracao_media_28_dias, 1) as numeric(10, 1)) as duracao_media_28_dias,

    ---------- visits over several horizons (the days up to and including the date)
    cast(c.visitas_7_dias as integer) as visitas_7_dias,
    cast(c.visitas_14_dias as integer) as visitas_14_dias,
    cast(c.visitas_28_dias as integer) as visitas_28_dias,
    cast(c.visitas_56_dias as integer) as visitas_56_dias,
    cast(c.visitas_8_semanas_anteriores as integer) as visitas_8_semanas_anteriores,

    ---------- tenure and contract
    cast(c.data_referencia - c.data_matricula as integer) as dias_de_casa,
    cast(c.fim_periodo_contrato - c.data_referencia as integer) as dias_para_fim_contrato,
    cast(
        round(
            (c.data_referencia - c.inicio_periodo_contrato)
            / cast(c.fim_periodo_contrato - c.inicio_periodo_contrato as numeric),
            3
        ) as numeric(5, 3)
    ) as fracao_contrato_decorrida,

    ---------- trend and regularity; a ratio is null when its earlier window had no visit
    cast(
        round(c.visitas_28_dias / 4.0 - c.visitas_8_semanas_anteriores / 8.0, 2)
        as numeric(8, 2)
    ) as tendencia_visitas_semana,
    cast(
        round(
            (c.visitas_28_dias / 4.0) / nullif(c.visitas_8_semanas_anteriores / 8.0, 0), 3
        ) as numeric(10, 3)
    ) as razao_tendencia,
    cast(
        round((c.visitas_7_dias / 7.0) / nullif(c.visitas_28_dias / 28.0, 0), 3)
        as numeric(10, 3)
    ) as razao_tendencia_7_28,
    cast(round(c.semanas_com_visita_4 / 4.0, 3) as numeric(5, 3)) as regularidade_4_semanas,
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

from cf_com_periodo as c
{%- endmacro %}
