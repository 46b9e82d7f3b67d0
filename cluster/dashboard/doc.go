// Package dashboard serves a web page to watch and steer trident's job
// queue: queues with their depth and rates, workers with their slots and
// current jobs, jobs by state with search by ID, a job's detail (argument,
// result or error with its stack, attempts, timeline), and the actions
// cancel and requeue, updated live. It is what rq-dashboard, Flower and
// asynqmon are to RQ, Celery and asynq.
//
// The page and its assets are embedded in the binary: no build step, no
// network. The dashboard reads the queue through the Store interface, so it
// does not depend on how the queue is stored; `trident cluster dashboard`
// serves it for a cluster.
package dashboard
