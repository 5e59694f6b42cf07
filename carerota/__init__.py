"""The ``carerota`` program: the one package above solver, scenarios and api.

It only assembles the command line (:mod:`carerota.cli`); each layer owns its commands.
"""
