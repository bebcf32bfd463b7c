{#-
  Leakage gate: recompute the visit features of every churn_features row (recency, 4-week count,
  90-day average length) straight from int_visits with an explicit "on or before
  data_referencia" filter, and return the rows that differ, or whose recency points after the
  date. Any returned row fails the build.
-#}
with

features as (

    select * from {{ ref('churn_features') }}
    {%- if not flags.FULL_REFRESH and var('as_of', none) is none %}
    -- a nightly run checks the rows it rebuilt; --full-refresh or a backtest checks every row
    where data_referencia >= {{ churn_features_recompute_from() }}
    {%- endif %}

),

visitas as (

    select aluno_id, data_local, duracao_minutos from {{ ref('int_visits') }}
    where evento = 'visita'

),

recomputed as (

    select
        f.aluno_id,
        f.data_referencia,
        max(v.data_local) filter (where v.data_local <= f.data_referencia) as ultima_ate_data,
        count(v.data_local) filter (
            where v.data_local <= f.data_referencia and v.data_local > f.data_referencia - 28
        ) as visitas_4_semanas_ate_data,
        round(avg(v.duracao_minutos) filter (
            where v.data_local <= f.data_referencia and v.data_local > f.data_referencia - 90
        ), 1) as duracao_media_ate_data
    from features as f
    left join visitas as v on v.aluno_id = f.aluno_id
    group by f.aluno_id, f.data_referencia

)

select
    f.aluno_id,
    f.data_referencia,
    f.dias_desde_ultima_visita,
    f.data_referencia - r.ultima_ate_data as dias_desde_ultima_visita_esperado,
    f.visitas_4_semanas,
    r.visitas_4_semanas_ate_data,
    f.duracao_media_minutos,
    r.duracao_media_ate_data
from features as f
inner join recomputed as r
    on r.aluno_id = f.aluno_id and r.data_referencia = f.data_referencia
where
    f.dias_desde_ultima_visita is distinct from (f.data_referencia - r.ultima_ate_data)
    or f.visitas_4_semanas <> r.visitas_4_semanas_ate_data
    or f.duracao_media_minutos is distinct from r.duracao_media_ate_data
    or f.dias_desde_ultima_visita < 0
