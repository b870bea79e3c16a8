-- strategy.param(name): the current value of a tunable number; fails loudly on a typo.
CREATE OR REPLACE FUNCTION strategy.param(p_name text) RETURNS numeric
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v numeric;
BEGIN
    SELECT value INTO v FROM strategy.parameters WHERE name = p_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown parameter %', p_name
            USING HINT = 'SELECT name FROM strategy.parameters lists the known ones';
    END IF;
    RETURN v;
END $$;
