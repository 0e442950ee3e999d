"""The worker process: periodic jobs on schedules and the background task queue (`sargs worker`)."""
