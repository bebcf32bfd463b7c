{#-
  churn_features is incremental: a snapshot whose 30-day label window closed long ago never
  changes while data only grows, so a nightly run rebuilds only the snapshots from
  churn_features_recompute_from() on (still-open labels, plus a week of margin) and the scoring
  date. A backtest (var('as_of')) or --full-refresh rebuilds everything.
-#}
{% macro churn_features_rebuilds_all() -%}
    {{- return(var('as_of', none) is not none or flags.FULL_REFRESH or not is_incremental()) -}}
{%- endmacro %}

{% macro churn_features_recompute_from() -%}
    ({{ as_of_date() }} - {{ (var('churn_horizon_days') | int) + 7 }})
{%- endmacro %}

{#- pre-hook: drop what this run rebuilds (and the previous scoring row, whatever its date). -#}
{% macro churn_features_prune() -%}
    {%- if is_incremental() -%}
        delete from {{ this }}
        {%- if not churn_features_rebuilds_all() %}
        where tipo_linha = 'pontuacao' or data_referencia >= {{ churn_features_recompute_from() }}
        {%- endif %}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}
