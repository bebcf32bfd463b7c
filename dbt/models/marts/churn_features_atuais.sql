{#-
  The churn features of today, live: one row per member active on the as-of date (var('as_of'),
  or today in the gym's zone; the same date as churn_features' scoring row), computed by the same
  macro as churn_features (churn_feature_rows) but over the app tables as they are now, not over
  last night's tables. A member created a second ago, with check-ins written a second ago, has
  its row here: the API scores it on demand without a second implementation of the features.

  - visits: the check-ins paired on the fly by the rule shared with int_visits and the API
    (pair_visits, serving/sql/pair_visits.sql), read only from where the features need them:
    the churn_features_lookback_days() days up to the as-of date, or from the member's last
    entry before them when that is older (dias_desde_ultima_visita), each minus 6 h 2 min so the
    first events read pair and de-duplicate exactly as in int_visits;
  - active periods: the rule of int_alunos_status_periodos (macro alunos_status_periodos) over
    the live status history.
  churn_30d is always null here (the next 30 days are not observed yet).

  A view, so nothing is stored; `where aluno_id = ...` is pushed down to the app tables' indexes
  (every join, group by and window is keyed by aluno_id): a few ms for one member.
  data-tests/assert_churn_features_atuais_match_scoring_row.sql checks it against churn_features.
-#}
{{ config(materialized='view') }}
{%- set lookback = churn_features_lookback_days() | trim | int %}
{%- set janela_inicio -%}
    (cast({{ as_of_date() }} - {{ lookback }} as timestamp) at time zone '{{ var("gym_timezone") }}')
{%- endset %}

with

status as (

    select status_id, aluno_id, is_ativo, ocorrido_em
    from {{ ref('stg_app__status_historico') }}

),

periodos as (

    {{ alunos_status_periodos('status') | indent(4) }}

),

-- each member's events from 6 h 2 min before the earlier of the window start and the last
-- entry before it
eventos as (

    select
        checkins.checkin_id,
        checkins.aluno_id,
        checkins.tipo,
        checkins.ocorrido_em
    from {{ ref('stg_app__alunos') }} as alunos
    cross join
        lateral (
            select
                coalesce(max(anterior.ocorrido_em), {{ janela_inicio }})
                - {{ pairing_lookback() }} as inicio
            from {{ ref('stg_app__checkins') }} as anterior
            where
                anterior.aluno_id = alunos.aluno_id
                and anterior.tipo = 'entrada'
                and anterior.ocorrido_em < {{ janela_inicio }}
        ) as leitura
    inner join {{ ref('stg_app__checkins') }} as checkins
        on checkins.aluno_id = alunos.aluno_id
        and checkins.ocorrido_em >= leitura.inicio

),

pareadas as (

    {{ pair_visits('eventos') | indent(4) }}

),

visitas as (

    select
        aluno_id,
        {{ local_date('entrada') }} as data_local,
        cast(duracao_minutos as numeric(10, 1)) as duracao_minutos
    from pareadas
    where evento = 'visita'

),

datas_referencia as (

    select {{ as_of_date() }} as data_referencia, cast('pontuacao' as text) as tipo_linha

),

features as (

    {{ churn_feature_rows(
        datas_referencia='datas_referencia',
        visitas='visitas',
        periodos='periodos',
        alunos=ref('stg_app__alunos'),
        planos=ref('stg_app__planos'),
        data_observacao=as_of_date()
    ) | indent(4) }}

)

select * from features
