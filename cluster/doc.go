// Package cluster runs trident's named functions and command jobs on other
// processes and other machines, through NATS JetStream.
//
// It is the "beyond one machine" model: what Python users get from a job
// queue such as RQ, or from Dask/Ray futures, built on a proven engine
// instead of a home-made one. NATS is written in Go, so the server can be
// embedded in a trident binary (the single-machine default) and grows into a
// real NATS cluster when needed.
//
// # The picture
//
//	submitter                      NATS JetStream                    workers
//	Fib.Submit(ex, ctx, 30) --> stream TRIDENT_TASKS (work queue) --> Serve(ctx, conn, ...)
//	                            trident.task.<queue>.<function>
//	*future.Future[int]     <-- trident.result.<executor> <---------- result or error
//
// Each function has its own subject in the queue and its own consumer,
// shared by the workers that run it: a worker takes only tasks of the
// functions it runs (WithFunctions, by default those registered in
// its binary), so command workers (`trident worker`) and Go workers can serve
// one queue, and a task of a function no live worker runs waits in the
// stream until one comes. Executor.WatchStalls reports such a wait, and an
// unreachable server, instead of a silent one.
//
// The same typed handles as the process pool serve here: a function
// registered with registry.Register is called with Submit on an *Executor and
// the result is the same *future.Future[R]. Workers are binaries that
// register the same functions and call Serve.
//
//	var Fib = registry.Register("fib", fib) // package level, in both binaries
//
//	// Worker binary (or the same binary with a flag):
//	conn, _ := cluster.Connect(ctx, cluster.ConnectOptions{URL: "nats://host:4222", Token: tok})
//	err := cluster.Serve(ctx, conn, cluster.WithConcurrency(8))
//
//	// Submitter:
//	ex, _ := cluster.NewExecutor(ctx, conn)
//	v, err := Fib.Submit(ex, ctx, 30).Result(ctx)
//
// Map on a cluster executor sends its inputs in chunks, one task message per
// chunk: for tiny calls that is the difference
// between about ten thousand and several hundred thousand calls a second on
// one machine, because each message costs a JetStream write, a delivery, a
// result and an acknowledgement.
//
// StartServer starts an embedded JetStream server (127.0.0.1 by default,
// data in a temporary directory unless one is given); `trident cluster
// server` does the same from the command line.
//
// # Delivery is at least once
//
// A task is removed from the queue only when a worker acknowledges it, after
// its result was published. A worker that dies mid-task (or loses its
// connection) stops sending in-progress heartbeats, and JetStream hands the
// task to another worker after the ack wait (WithAckWait). So a function can run
// more than once for one Submit, and even complete twice: the future takes
// the first result and Executor.Stats counts the duplicates. Functions with
// side effects should be idempotent; TaskID(ctx) gives an id that is the
// same on every delivery, and Delivery(ctx) says which delivery this is.
//
// A task delivered more than WithMaxDeliver times (it keeps
// killing its workers) fails with an error matching ErrMaxDeliveries. A
// message that cannot be decoded (missing headers, another codec, a corrupt
// argument) or names a function its worker lists but cannot run is never
// retried: it is copied to
// the dead-letter stream TRIDENT_DEAD with the reason in its Trident-Reason
// header, and the future fails with ErrUndecodable or
// registry.ErrUnknownFunction. Nothing makes a worker crash-loop.
//
// # Cancellation and deadlines
//
// Cancelling a future (or its submit context) ends it at once with
// future.ErrCancelled; the cancellation is published to the workers, which
// cancel the task's context if it runs or drop it when it arrives, and the
// message is deleted from the stream if it is still queued. A deadline on
// the submit context travels with the task: the worker runs the function
// with that deadline and, if the function does not return in time, abandons
// it (a goroutine cannot be killed; command jobs are killed with their whole
// process group) and reports context.DeadlineExceeded. Errors keep their
// identity across the wire as *registry.RemoteError.
//
// # Security
//
// Anyone who can publish to the task stream can make workers run registered
// functions, and `trident worker` runs shell commands. So: StartServer
// refuses a non-loopback listen address without a user/password or token,
// and Serve refuses a connection to a non-loopback server made without
// credentials (user/password, token, creds file, nkey or a TLS client
// certificate). TLS is supported on both sides (ServerOptions.TLS,
// ConnectOptions.TLS or the CAFile/CertFile/KeyFile fields) and should be
// used whenever traffic leaves the machine. Only workers built with
// CommandHandler run command jobs; a plain Serve never executes shell commands.
//
// # Observability
//
// GetStatus (and `trident cluster status`) reports the workers that answer a
// ping with their slots and counters, and the queue's depth, in-flight and
// redelivered tasks and dead letters.
//
// # Durable jobs
//
// Executor futures are fast and forgetful: results go to the submitting
// process only. For work one enqueues and walks away from (RQ's model),
// OpenJobs gives a Jobs handle on a durable queue: Enqueue (or
// EnqueueCommand, EnqueueBatch) stores a job record in the KV bucket
// JobBucket and its message in the work-queue stream JobStream and returns
// the job's ID; ServeJobs runs jobs and writes every state change to the
// record with a compare-and-set, so a job's final state is written exactly
// once even when its worker was killed and another ran it again. Any
// process can then read (Jobs.Job), wait for (Jobs.Wait, JobResult,
// JobFuture), cancel (Jobs.Cancel) or requeue (Jobs.Requeue,
// Jobs.RequeueFailed) a job. Jobs can be scheduled (JobOptions.At, In),
// depend on others (DependsOn, AllowFailure), retry with backoff (Retry),
// be unique (UniqueKey) and expire after ResultTTL/FailureTTL; AddSchedule
// and RunScheduler add periodic (cron) jobs. JobIndex, Jobs.Queues,
// Jobs.Workers and JobMetrics serve dashboards and Prometheus.
//
// A queue message carries the job's record and its revision, so a worker
// starts a job with one compare-and-set and no read. A process killed
// between a job's record write and its queue message leaves a job that
// Jobs.RepairQueued (run by job workers, one at a time) queues again after
// a grace period. A result larger than MaxInlineResult is kept in the
// object store ResultBucket, named by the record (Job.ResultObject) and
// read back by Jobs.Job and Jobs.Wait; Jobs.CleanResults removes the
// objects of expired jobs.
//
// The Executor path is kept as it is rather than routed through job
// records: a record costs three KV writes per call, several times
// the cost of a task message, and futures that need no durability should
// not pay it. Jobs.Executor gives typed handles a durable executor when
// they want one.
//
// # Differences from Python's RQ and Dask
//
// Functions are sent by registered name, never as code (there is no
// pickle). The future stays Pending until the result arrives, because the
// submitter does not learn when a remote worker starts; Cancel therefore
// always reports true while the result is outstanding. Executor results travel
// on core NATS to the submitting executor: if the submitter goes away, its
// results are dropped (nobody is waiting for them); use durable jobs when
// results must outlive the submitter.
package cluster
