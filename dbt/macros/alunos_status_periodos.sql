{#-
  Active periods of each member from the append-only status history, written once:
  int_alunos_status_periodos (a table) and the live view churn_features_atuais call it.

  Input: a relation or CTE with status_id, aluno_id, is_ativo, ocorrido_em (stg_app__status_historico).
  Output: one row per active period [inicio_em, fim_em), fim_em null while still active:
  periodo_id (the status_id of the activation), aluno_id, numero_periodo (1, 2 after a
  reactivation, ...), inicio_em, fim_em, data_inicio, data_fim (gym-local dates).
  Repeated events of the same state (activated twice) collapse into one. Every window is
  partitioned by aluno_id, so a filter on aluno_id is pushed down to the history's index.
-#}
{% macro alunos_status_periodos(status) -%}
with

sp_with_previous as (

    select
        aluno_id,
        is_ativo,
        ocorrido_em,
        status_id,
        lag(is_ativo) over (
            partition by aluno_id order by ocorrido_em, status_id
        ) as is_ativo_anterior
    from {{ status }} as status

),

sp_transitions as (

    select aluno_id, is_ativo, ocorrido_em, status_id
    from sp_with_previous
    where is_ativo_anterior is null or is_ativo_anterior <> is_ativo

),

sp_periods as (

    select
        aluno_id,
        is_ativo,
        status_id,
        ocorrido_em as inicio_em,
        lead(ocorrido_em) over (
            partition by aluno_id order by ocorrido_em, status_id
        ) as fim_em,
        row_number() over (
            partition by aluno_id, is_ativo order by ocorrido_em, status_id
        ) as numero_periodo
    from sp_transitions

)

select
    status_id as periodo_id,
    aluno_id,
    cast(numero_periodo as integer) as numero_periodo,
    inicio_em,
    fim_em,
    {{ local_date('inicio_em') }} as data_inicio,
    {{ local_date('fim_em') }} as data_fim
from sp_periods
where is_ativo
{%- endmacro %}
