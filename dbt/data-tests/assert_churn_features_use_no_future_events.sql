{#-
  Leakage gate: recompute the visit features of every churn_features row (recency, the counts
  of the last 7, 14, 28 and 56 days and of the 8 weeks before the last 4, the 28- and 90-day
  average lengths, the weeks with a visit) straight from int_visits with an explicit "on or
  before data_referencia" filter, and return the rows that differ, or whose recency points
  after the date. Any returned row fails the build. The ratios and the trend are arithmetic
  on these counts (the unit tests in churn_features.yml check them).

  Written independently of the model (churn_feature_rows): the counts and the average join the
  visits of the 90 days up to each date (read from 90 days before the earliest date checked), and
  recency is a lookup of the last visit on or before the date through the (aluno_id,
  data_local) index, so a night's check does not join every row with years of visits.
-#}
with

features as (

    select * from {{ ref('churn_features') }}
    {%- if not tests_check_every_row() %}
    -- a nightly run checks the rows it rebuilt; --full-refresh, a backtest or
    -- --vars '{test_every_row: true}' check every row (macros/test_scope.sql).
    -- LT02 is off on the next line: churn_features_rebuilt indents its `between ... and`.
    where tipo_linha = 'pontuacao' or {{ churn_features_rebuilt('data_referencia') }}  -- noqa: LT02
    {%- endif %}

),

visitas as (

    select aluno_id, data_local, duracao_minutos from {{ ref('int_visits') }}
    where
        evento = 'visita'
        and data_local > (select min(data_referencia) from features) - 90

),

recomputed as (

    select
        f.aluno_id,
        f.data_referencia,
        (
            select max(u.data_local)
            from {{ ref('int_visits') }} as u
            where
                u.aluno_id = f.aluno_id
                and u.evento = 'visita'
                and u.data_local <= f.data_referencia
        ) as ultima_ate_data,
        count(v.data_local) filter (
            where v.data_local <= f.data_referencia and v.data_local > f.data_referencia - 7
        ) as visitas_7_dias_ate_data,
        count(v.data_local) filter (
            where v.data_local <= f.data_referencia and v.data_local > f.data_referencia - 14
        ) as visitas_14_dias_ate_data,
        count(v.data_local) filter (
            where v.data_local <= f.data_referencia and v.data_local > f.data_referencia - 28
        ) as visitas_28_dias_ate_data,
        count(v.data_local) filter (
            where v.data_local <= f.data_referencia and v.data_local > f.data_referencia - 56
        ) as visitas_56_dias_ate_data,
        count(v.data_local) filter (
            where v.data_local <= f.data_referencia - 28 and v.data_local > f.data_referencia - 84
        ) as visitas_8_semanas_anteriores_ate_data,
        round(avg(v.duracao_minutos) filter (
            where v.data_local <= f.data_referencia and v.data_local > f.data_referencia - 28
        ), 1) as duracao_media_28_dias_ate_data,
        round(avg(v.duracao_minutos) filter (
            where v.data_local <= f.data_referencia and v.data_local > f.data_referencia - 90
        ), 1) as duracao_media_ate_data,
        round(count(distinct div(f.data_referencia - v.data_local, 7)) filter (
            where v.data_local <= f.data_referencia and v.data_local > f.data_referencia - 28
        ) / 4.0, 3) as regularidade_4_semanas_ate_data,
        round(count(distinct div(f.data_referencia - v.data_local, 7)) filter (
            where v.data_local <= f.data_referencia and v.data_local > f.data_referencia - 56
        ) / 8.0, 3) as regularidade_8_semanas_ate_data
    from features as f
    left join visitas as v
        on v.aluno_id = f.aluno_id
        and v.data_local <= f.data_referencia
        and v.data_local > f.data_referencia - 90
    group by f.aluno_id, f.data_referencia

)

select
    f.aluno_id,
    f.data_referencia,
    f.dias_desde_ultima_visita,
    f.data_referencia - r.ultima_ate_data as dias_desde_ultima_visita_esperado,
    f.visitas_7_dias,
    r.visitas_7_dias_ate_data,
    f.visitas_14_dias,
    r.visitas_14_dias_ate_data,
    f.visitas_28_dias,
    r.visitas_28_dias_ate_data,
    f.visitas_56_dias,
    r.visitas_56_dias_ate_data,
    f.visitas_8_semanas_anteriores,
    r.visitas_8_semanas_anteriores_ate_data,
    f.duracao_media_28_dias,
    r.duracao_media_28_dias_ate_data,
    f.duracao_media_minutos,
    r.duracao_media_ate_data,
    f.regularidade_4_semanas,
    r.regularidade_4_semanas_ate_data,
    f.regularidade_8_semanas,
    r.regularidade_8_semanas_ate_data
from features as f
inner join recomputed as r
    on r.aluno_id = f.aluno_id and r.data_referencia = f.data_referencia
where
    f.dias_desde_ultima_visita is distinct from (f.data_referencia - r.ultima_ate_data)
    or f.visitas_7_dias <> r.visitas_7_dias_ate_data
    or f.visitas_14_dias <> r.visitas_14_dias_ate_data
    or f.visitas_28_dias <> r.visitas_28_dias_ate_data
    or f.visitas_56_dias <> r.visitas_56_dias_ate_data
    or f.visitas_8_semanas_anteriores <> r.visitas_8_semanas_anteriores_ate_data
    or f.duracao_media_28_dias is distinct from r.duracao_media_28_dias_ate_data
    or f.duracao_media_minutos is distinct from r.duracao_media_ate_data
    or f.regularidade_4_semanas <> r.regularidade_4_semanas_ate_data
    or f.regularidade_8_semanas <> r.regularidade_8_semanas_ate_data
    or f.dias_desde_ultima_visita < 0
