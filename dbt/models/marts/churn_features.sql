{#-
  The churn feature table: one row per (aluno_id, data_referencia) for members active on that
  gym-local date. ONE definition for training and scoring:
    - training rows: every Sunday from the month of the first visit up to the as-of date;
    - the scoring row: the as-of date itself (var('as_of'), or today in the gym's zone).
  The features themselves are the macro churn_feature_rows (macros/churn_feature_rows.sql),
  shared with the live view churn_features_atuais that the API scores on demand.
  Every feature reads only events on or before data_referencia (`data_local <= data_referencia`);
  data-tests/assert_churn_features_use_no_future_events.sql checks it.
  Incremental (macros/churn_features_window.sql): a nightly run rebuilds only the snapshots
  whose label was observed within the last week, those of the last week, and the scoring date;
  a backtest or --full-refresh rebuilds all.
  Label churn_30d: 1 when the member's active period ends (cancellation) within the 30 days after
  data_referencia, 0 when it does not, null when those 30 days are not fully observed yet
  (data_referencia + 30 > as-of date).
-#}
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        indexes=[{'columns': ['data_referencia']}],
        pre_hook="{{ churn_features_prune() }}",
    )
}}
{#- append: the pre-hook deleted every row this run writes (the same dates, in the same
    transaction, so the same as-of date); a delete by key would find nothing. -#}
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

    select aluno_id, data_local, duracao_minutos from {{ ref('int_visits') }}
    where evento = 'visita'
    {%- if not churn_features_rebuilds_all() %}
        -- a night rebuilds snapshots from churn_features_recompute_from() on: they read the
        -- lookback days before them, and each member's last visit before those (recency), one
        -- probe of the (aluno_id, data_local) index per member; not years of visits
        and data_local > {{ churn_features_recompute_from() }} - {{ churn_features_lookback_days() }}

    union all

    select alunos.aluno_id, anterior.data_local, anterior.duracao_minutos
    from alunos
    cross join lateral (
        select v.data_local, v.duracao_minutos
        from {{ ref('int_visits') }} as v
        where
            v.aluno_id = alunos.aluno_id
            and v.evento = 'visita'
            and v.data_local
            <= {{ churn_features_recompute_from() }} - {{ churn_features_lookback_days() }}
        order by v.data_local desc
        limit 1
    ) as anterior
    {%- endif %}

),

as_of as (

    select {{ as_of_date() }} as data_observacao

),

datas_referencia as (

    select
        cast(domingo as date) as data_referencia,
        'treino' as tipo_linha
    from as_of
    cross join
        generate_series(
            (select cast(date_trunc('month', min(data_local)) as date) from visitas),
            as_of.data_observacao - 1,
            interval '1 day'
        ) as domingo
    where extract(isodow from domingo) = 7
    {%- if not churn_features_rebuilds_all() %}
        and {{ churn_features_rebuilt('domingo') }}
    {%- endif %}

    union all

    select data_observacao as data_referencia, 'pontuacao' as tipo_linha
    from as_of

),

features as (

    {{ churn_feature_rows(
        datas_referencia='datas_referencia',
        visitas='visitas',
        periodos='periodos',
        alunos='alunos',
        planos='planos',
        data_observacao=as_of_date()
    ) | indent(4) }}

)

select * from features
