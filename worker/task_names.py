"""The names of the product's Celery tasks, in one place.

A task's name is what a message carries and what a worker looks up, so whoever sends a message
(`worker.publish` fills job messages by hand, beat sends the schedules' fires) and whoever defines
the task import the name from here, and none of them imports the others for it.
"""

#: one job: `worker.tasks.process_job(job_id)`
PROCESS_JOB = "seedream.process_job"
#: one fire of a schedule, sent by beat: `worker.scheduled.start_scheduled(schedule, fired_at)`
START_SCHEDULED_BATCH = "seedream.start_scheduled_batch"
