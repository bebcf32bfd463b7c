{#-
  Data tests on the big incremental tables check, on a nightly run, the rows that run rebuilt;
  on --full-refresh, a backtest (--as-of) or with --vars '{test_every_row: true}' they check
  every row.

  A test opts in with `config: {where: "__rows_rebuilt__"}` in the model's yml. dbt renders a
  test's `where` while parsing, where neither flags nor our macros are known, so the placeholder
  is replaced here, when the test runs (dbt's documented way: override get_where_subquery).
  The predicate per model is in rows_rebuilt(), with the boundaries as literals read when the
  test runs (so PostgreSQL can use the indexes).
-#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if where and '__rows_rebuilt__' in where -%}
        {%- set where = where | replace('__rows_rebuilt__', rows_rebuilt(relation)) -%}
    {%- endif -%}
    {%- if where -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {{- return(filtered) -}}
    {%- else -%}
        {{- return(relation) -}}
    {%- endif -%}
{%- endmacro %}

{% macro tests_check_every_row() -%}
    {{- return(
        not execute
        or flags.FULL_REFRESH
        or var('as_of', none) is not none
        or var('test_every_row', false)
    ) -}}
{%- endmacro %}

{#- max(column) of a relation as a timestamptz literal; none when the relation is empty. -#}
{% macro max_timestamptz_literal(relation, column) -%}
    {%- set query -%}
        select to_char(max({{ column }}) at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')
        from {{ relation }}
    {%- endset -%}
    {%- set value = run_query(query).columns[0].values()[0] -%}
    {{- return("cast('" ~ value ~ "+00' as timestamptz)" if value else none) -}}
{%- endmacro %}

{% macro rows_rebuilt(relation) -%}
    {%- if tests_check_every_row() -%}
        {{- return('true') -}}
    {%- endif -%}
    {%- set name = relation.identifier -%}

    {%- if name == 'int_visits' -%}
        {#- the rows the last run wrote -#}
        {%- set since = max_timestamptz_literal(relation, 'processado_em') -%}
        {{- return('processado_em >= ' ~ since if since else 'true') -}}

    {%- elif name == 'stg_app__checkins' -%}
        {#-
          The events int_visits has not paired yet, and the day before: from the day before the
          last day in int_visits (read through its data_local index), through the ocorrido_em
          index of checkins. In `dbt build` these tests run before int_visits, so that is
          tonight's new events. A late event (one that happened before that) is not checked
          here but in the int_visits rows it rewrites; checkins' own constraints (primary key,
          not null, foreign key, tipo check) hold for every row anyway. Before the first build
          of int_visits, every event.
        -#}
        {%- set visits = adapter.get_relation(
            database=target.database, schema=target.schema, identifier='int_visits'
        ) -%}
        {%- set last_day = run_query(
            "select max(data_local)::text from " ~ visits
        ).columns[0].values()[0] if visits else none -%}
        {{- return(
            "ocorrido_em >= cast(cast('" ~ last_day ~ "' as date) - 1 as timestamp) at time zone '"
            ~ var('gym_timezone') ~ "'" if last_day else 'true'
        ) -}}

    {%- elif name == 'churn_features' -%}
        {#- the snapshots a night rebuilds (macros/churn_features_window.sql) -#}
        {{- return(
            "(tipo_linha = 'pontuacao' or " ~ churn_features_rebuilt('data_referencia') ~ ")"
        ) -}}

    {%- elif name == 'churn_features_atuais' -%}
        {#-
          A view: a night rebuilds none of it, and checking it computes the features of every
          member from the raw check-ins (about 20 s at 100,000 members). Checked in full on
          --full-refresh, a backtest, or with test_every_row (after deploying feature SQL).
        -#}
        {{- return('false') -}}

    {%- else -%}
        {{- exceptions.raise_compiler_error(
            "__rows_rebuilt__ is not defined for " ~ name ~ " (macros/test_scope.sql)"
        ) -}}
    {%- endif -%}
{%- endmacro %}
