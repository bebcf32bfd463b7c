{#-
  One definition of the features: the live view churn_features_atuais and churn_features' scoring
  row are the same macro (churn_feature_rows) over the same events, so for the scoring date they
  must agree, column by column, member by member. Returns the rows that differ (or exist on one
  side only).

  The view reads the app tables as they are now, the table what they were when it was built, so
  only members with nothing written since are compared: no check-in, status change or member
  update after the start of this run or of the last int_visits build, less 5 minutes for
  transactions that committed late (the API's writes take milliseconds; a bulk import running
  during the build would need more). A member written during the build is compared by the next
  one. Nothing is compared when the table's scoring date is not the view's (the run crossed
  midnight).

  It computes the view for every member (about 20 s at 100,000 members), so a nightly run skips
  it; it runs on --full-refresh, a backtest, and with --vars '{test_every_row: true}' (run that
  after deploying a change to the feature SQL). The tests' CI builds are full builds.
-#}
{%- set runs = tests_check_every_row() %}
with

corte as (

    select
        least(
            cast('{{ run_started_at }}' as timestamptz),
            coalesce(max(processado_em), '-infinity'::timestamptz)
        ) - interval '5 minutes' as escrito_antes_de
    from {{ ref('int_visits') }}

),

alterados as (

    select aluno_id from {{ ref('stg_app__checkins') }}
    where gravado_em >= (select escrito_antes_de from corte)
    union
    select aluno_id from {{ ref('stg_app__status_historico') }}
    where registrado_em >= (select escrito_antes_de from corte)
    union
    select aluno_id from {{ ref('stg_app__alunos') }}
    where greatest(criado_em, atualizado_em) >= (select escrito_antes_de from corte)

),

tabela as (

    select * from {{ ref('churn_features') }}
    where tipo_linha = 'pontuacao' and data_referencia = {{ as_of_date() }}

),

visao as (

    select * from {{ ref('churn_features_atuais') }}

),

so_na_tabela as (

    select 'so_na_tabela' as diferenca, * from (
        select * from tabela
        except
        select * from visao
    ) as t

),

so_na_visao as (

    select 'so_na_visao' as diferenca, * from (
        select * from visao
        where exists (select 1 from tabela)
        except
        select * from tabela
    ) as v

)

select *
from (
    select * from so_na_tabela
    union all
    select * from so_na_visao
) as diferencas
where {{ 'true' if runs else 'false' }}
    and not exists (
        select 1 from alterados where alterados.aluno_id = diferencas.aluno_id
    )
