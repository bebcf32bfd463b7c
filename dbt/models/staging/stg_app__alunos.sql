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
        -- the students `gympulse simulate student` creates (serving/simulator/student.py)
        aluno_sintetico(aluno_ref) as is_sintetico,  -- the app's one rule (migration 0006)

        ---------- timestamps
        data_matricula as matriculado_em,
        criado_em,
        atualizado_em

    from source

)

select * from renamed
