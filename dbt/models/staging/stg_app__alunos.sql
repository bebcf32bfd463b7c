with

source as (

    select * from {{ source('app', 'alunos') }}

),

renamed as (

    select

        ----------  ids
        id as aluno_id,
        aluno_ref,
        plano_id,

        ---------- text
        nome,
        email,

        ---------- dates
        data_nascimento,
        {{ local_date('data_matricula') }} as data_matricula,

        ---------- booleans
        ativo as is_ativo,

        ---------- timestamps
        data_matricula as matriculado_em,
        criado_em,
        atualizado_em

    from source

)

select * from renamed
