{#-
  churn_features is incremental. A training snapshot (a Sunday d) reads only days up to d and its
  label the 30 days after d, so once its label has been observed for a week it never changes
  while data only grows. A nightly run rebuilds (churn_features_rebuilt):
    - the snapshots whose label was observed within the last week
      (as-of - 37 <= d <= as-of - 30): the label turns 0/1, and the week catches late
      cancellations and late visits;
    - the snapshots of the last week (d >= as-of - 7): new Sundays appear, and the week catches
      late visits;
    - the scoring row (the as-of date).
  The snapshots in between keep, until their label is observed, the values they had a week after
  their date; their label is null, so no training set reads them. Every labelled row is
  therefore built exactly as a rebuild of the whole window would build it. A backtest
  (var('as_of')), --full-refresh, or a table whose last build was not within the last week
  (the one after a backtest, or after a long pause: its labels stopped at an older date)
  rebuilds everything.
-#}
{% macro churn_features_rebuilds_all() -%}
    {{- return(
        var('as_of', none) is not none
        or flags.FULL_REFRESH
        or not is_incremental()
        or not churn_features_built_last_week()
    ) -}}
{%- endmacro %}

{#- Did the previous build score a date of the last week? (index on data_referencia) -#}
{% macro churn_features_built_last_week() -%}
    {%- if not execute -%}
        {{- return(true) -}}
    {%- endif -%}
    {%- set query -%}
        select exists (
            select 1 from {{ this }}
            where data_referencia between {{ as_of_date() }} - 7 and {{ as_of_date() }}
                and tipo_linha = 'pontuacao'
        )
    {%- endset -%}
    {{- return(run_query(query).columns[0].values()[0]) -}}
{%- endmacro %}

{#- The earliest date a night rebuilds. -#}
{% macro churn_features_recompute_from() -%}
    ({{ as_of_date() }} - {{ (var('churn_horizon_days') | int) + 7 }})
{%- endmacro %}

{#- The training snapshot dates a night rebuilds, as a predicate on a date column. -#}
{% macro churn_features_rebuilt(column) -%}
    (
        {{ column }} between {{ churn_features_recompute_from() }}
            and {{ as_of_date() }} - {{ var('churn_horizon_days') | int }}
        or {{ column }} >= {{ as_of_date() }} - 7
    )
{%- endmacro %}

{#- pre-hook: drop what this run rebuilds (and the previous scoring row, whatever its date). -#}
{% macro churn_features_prune() -%}
    {%- if is_incremental() -%}
        delete from {{ this }}
        {%- if not churn_features_rebuilds_all() %}
        where tipo_linha = 'pontuacao' or {{ churn_features_rebuilt('data_referencia') }}
        {%- endif %}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}
