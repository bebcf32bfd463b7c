{#-
  `grant usage on schema <target schema>` to a role, after a run or build that created or
  replaced models there (on-run-end in dbt_project.yml). Nothing for the commands that write no
  model (compile, test, docs), which may run before the schema exists.
-#}
{% macro grant_schema_usage(role) -%}
    {%- if execute and flags.WHICH in ('build', 'run') -%}
        grant usage on schema {{ adapter.quote(target.schema) }} to {{ role }}
    {%- endif -%}
{%- endmacro %}
