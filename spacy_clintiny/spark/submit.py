"""``spark-submit`` entry point of ``clintiny spark-deid`` (absolute imports: spark-submit runs
this file as a script)::

    spark-submit --master yarn [options] \\
        "$(python -c 'import spacy_clintiny.spark.submit as m; print(m.__file__)')" \\
        INPUT OUTPUT --text-col text --patient-col mrn --mode surrogate --key-file deid.key
"""

from spacy_clintiny.cli.spark import main

if __name__ == "__main__":
    main()
