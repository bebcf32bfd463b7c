{#-
  Active periods of each member from the append-only status history: [inicio, fim), fim null
  while still active. Repeated events of the same state (activated twice) collapse into one.
  The rule is the macro alunos_status_periodos (macros/alunos_status_periodos.sql), shared with
  the live view churn_features_atuais.
-#}
with

status as (

    select * from {{ ref('stg_app__status_historico') }}

),

final as (

    {{ alunos_status_periodos('status') | indent(4) }}

)

select * from final
