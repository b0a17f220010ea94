"""RAG Assistant: the API, its worker, and the services they share."""

import os

# One BLAS thread per process, set before numpy is first imported. The API answers many
# questions at once, each one's numpy work (its embedding, the catalog scan) in a thread of its
# own; BLAS threads on top only contend with those, with the event loop and with the database
# (measured on 2 cores: a question's embedding p95 6 ms with one, 11 ms with two). The worker
# loses ~15% of its embedding speed, which no one waits for. A deployment may still set them.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")
