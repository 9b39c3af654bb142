"""Retrieval evaluation: the course's ranking metrics and ``labkit eval-retrieval``.

- :mod:`labkit.retrieval.metrics`: nDCG@k, Recall@k, MRR@k (computed by ir_measures, i.e. trec_eval)
- :mod:`labkit.retrieval.labfolder`: import a lab folder's modules by path, leaving no trace
- :mod:`labkit.retrieval.evaluation`: a rag-03 pipeline, stage by stage, on a BEIR data set
- :mod:`labkit.retrieval.cli`: the ``eval-retrieval`` sub-command
"""
