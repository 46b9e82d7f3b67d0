// Package proctree starts commands whose whole process trees die with their
// owner, even when the owner is killed with SIGKILL.
//
// A Supervisor is a helper process (this same binary, re-executed through
// /proc/self/exe; the package's init function turns it into the
// supervisor before main runs) that starts the commands on request, so they
// are its children, not the owner's. It is a child subreaper
// (PR_SET_CHILD_SUBREAPER): a process of a command's tree whose parent dies
// (a daemon that double-forks, a process that left the command's group with
// setsid) is reparented to the supervisor, never to init, so the whole tree
// stays below it. When the owner's end of the supervisor's socket closes (the
// owner called Close, exited, or was killed: the kernel closes it in every
// case), the supervisor SIGKILLs every command's process group, then every
// process left below it, level by level as orphans are reparented to it,
// until it has no child left, and exits.
//
// Why not something simpler: Pdeathsig only covers the direct child (and a
// grandchild's parent is the job's shell, not the owner); a process group
// kill misses processes that called setsid; cgroups are not available
// unprivileged everywhere (cgroup v1 or an undelegated v2); a PID namespace
// needs privileges or user namespaces. A subreaper that is not the owner is
// the one place below which a process tree cannot escape and which survives
// the owner.
//
// The commands' direct children also get Pdeathsig SIGKILL, bound to the
// supervisor: if the supervisor itself is killed, the commands' main
// processes die with it.
package proctree

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// envKey marks the re-executed binary as a supervisor; its value is the
// number of the descriptor of the supervisor's end of the socket.
const envKey = "TRIDENT_PROCTREE_SUPERVISOR"

func init() {
	if os.Getenv(envKey) != "" {
		// syscall.Exit: nothing to flush, and a race-detector build
		// would otherwise sleep a second at exit.
		syscall.Exit(supervise())
	}
}

// Message types.
const (
	msgSpawn   = 1 // owner -> supervisor: start a process (with descriptors)
	msgReady   = 2 // supervisor -> owner: running (pid)
	msgStarted = 3 // supervisor -> owner: id, pid, errno
	msgExited  = 4 // supervisor -> owner: id, wait status, rusage
)

// ErrSupervisorGone is returned for processes whose supervisor ended or was
// closed before they were reported as ended.
var ErrSupervisorGone = errors.New("proctree: process supervisor gone")

// Supervisor starts processes below a supervisor process; see the package
// doc.
type Supervisor struct {
	conn *net.UnixConn
	proc *os.Process
	pid  int

	wmu sync.Mutex // serialises writes to conn

	mu      sync.Mutex
	nextID  uint64
	procs   map[uint64]*Process
	dead    error
	readEnd chan struct{}

	closeOnce sync.Once
	closeErr  error
}

// Process is a process started by a Supervisor.
type Process struct {
	// Pid is the process id; the process leads its own process group
	// (its pgid is Pid).
	Pid int

	started chan struct{}
	done    chan struct{}
	err     error // start error, or why the end is unknown
	status  syscall.WaitStatus
	rusage  syscall.Rusage
}

// Start starts a supervisor. Close it when done; if the calling process
// dies first, the supervisor cleans up all the same.
func Start() (*Supervisor, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("proctree: socketpair: %w", err)
	}
	mine := os.NewFile(uintptr(fds[0]), "proctree")
	theirs := os.NewFile(uintptr(fds[1]), "proctree-supervisor")
	defer theirs.Close()
	env := append(os.Environ(), envKey+"=3")
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		mine.Close()
		return nil, err
	}
	defer devnull.Close()
	// Its own process group: a signal to the owner's group (Ctrl-C, a kill
	// of the whole group) does not reach the supervisor, which outlives the
	// owner to clean up.
	proc, err := os.StartProcess("/proc/self/exe", []string{"trident-proctree"}, &os.ProcAttr{
		Env: env, Files: []*os.File{devnull, devnull, os.Stderr, theirs},
		Sys: &syscall.SysProcAttr{Setpgid: true},
	})
	if err != nil {
		mine.Close()
		return nil, fmt.Errorf("proctree: starting the supervisor: %w", err)
	}
	c, err := net.FileConn(mine)
	mine.Close()
	if err != nil {
		proc.Kill()
		proc.Wait()
		return nil, fmt.Errorf("proctree: %w", err)
	}
	s := &Supervisor{conn: c.(*net.UnixConn), proc: proc, procs: map[uint64]*Process{}, readEnd: make(chan struct{})}
	// The supervisor says it runs (or its end closes).
	r := &msgReader{conn: s.conn}
	typ, body, err := r.next()
	if err != nil || typ != msgReady || len(body) < 4 {
		s.conn.Close()
		proc.Kill()
		proc.Wait()
		if err == nil {
			err = fmt.Errorf("unexpected message %d", typ)
		}
		return nil, fmt.Errorf("proctree: the supervisor did not start: %w", err)
	}
	s.pid = proc.Pid
	go s.read(r)
	return s, nil
}

// Spawn starts path with argv, env (nil: the supervisor's environment, which
// is the owner's at Start), in dir ("" = the supervisor's, which is the
// owner's at Start), with files as its descriptors 0, 1, 2, ... It returns
// once the process runs (or failed to start: then the error is an
// *os.PathError as from os.StartProcess). The process leads a new process
// group.
func (s *Supervisor) Spawn(path string, argv, env []string, dir string, files []int) (*Process, error) {
	p := &Process{started: make(chan struct{}), done: make(chan struct{})}
	s.mu.Lock()
	if s.dead != nil {
		err := s.dead
		s.mu.Unlock()
		return nil, err
	}
	s.nextID++
	id := s.nextID
	s.procs[id] = p
	s.mu.Unlock()

	var b []byte
	b = binary.LittleEndian.AppendUint64(b, id)
	b = appendString(b, path)
	b = appendString(b, dir)
	b = appendStrings(b, argv)
	if env == nil {
		b = binary.LittleEndian.AppendUint32(b, ^uint32(0))
	} else {
		b = appendStrings(b, env)
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(files)))
	if err := s.send(msgSpawn, b, files); err != nil {
		s.fail(fmt.Errorf("%w: %w", ErrSupervisorGone, err))
	}
	<-p.started
	if p.Pid == 0 {
		return nil, &os.PathError{Op: "fork/exec", Path: path, Err: p.err}
	}
	return p, nil
}

// Wait waits for the process to end and returns its wait status and
// resource usage (Utime, Stime and Maxrss are set).
func (p *Process) Wait() (syscall.WaitStatus, syscall.Rusage, error) {
	<-p.done
	return p.status, p.rusage, p.err
}

// Done is closed when the process has ended (or its end cannot be known).
func (p *Process) Done() <-chan struct{} { return p.done }

// Close ends the supervisor: every process it started, and every process
// of their trees, is killed with SIGKILL; Close returns once the supervisor
// has exited. Processes not yet reported as ended get ErrSupervisorGone.
func (s *Supervisor) Close() error {
	s.closeOnce.Do(func() {
		s.conn.CloseWrite()
		<-s.readEnd
		s.conn.Close()
		st, err := s.proc.Wait()
		if err != nil {
			s.closeErr = err
		} else if !st.Success() {
			s.closeErr = fmt.Errorf("proctree: supervisor: %v", st)
		}
	})
	return s.closeErr
}

// Pid is the supervisor's process id.
func (s *Supervisor) Pid() int { return s.pid }

func (s *Supervisor) send(typ byte, body []byte, files []int) error {
	msg := make([]byte, 5, 5+len(body))
	binary.LittleEndian.PutUint32(msg, uint32(1+len(body)))
	msg[4] = typ
	msg = append(msg, body...)
	var oob []byte
	if len(files) > 0 {
		oob = unix.UnixRights(files...)
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return writeMsg(s.conn, msg, oob)
}

// writeMsg writes all of msg, with oob on its first byte.
func writeMsg(c *net.UnixConn, msg, oob []byte) error {
	n, _, err := c.WriteMsgUnix(msg, oob, nil)
	if err != nil {
		return err
	}
	if n < len(msg) {
		_, err = c.Write(msg[n:])
	}
	return err
}

// fail marks the supervisor dead: every process waiting gets err.
func (s *Supervisor) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dead == nil {
		s.dead = err
	}
	for id, p := range s.procs {
		delete(s.procs, id)
		p.err = err
		select {
		case <-p.started:
		default:
			close(p.started)
		}
		close(p.done)
	}
}

func (s *Supervisor) read(r *msgReader) {
	defer close(s.readEnd)
	for {
		typ, b, err := r.next()
		if err != nil {
			s.fail(ErrSupervisorGone)
			return
		}
		d := &decoder{b: b}
		id := d.u64()
		s.mu.Lock()
		p := s.procs[id]
		switch {
		case p == nil || d.bad:
		case typ == msgStarted:
			pid, errno := int(d.u32()), syscall.Errno(d.u32())
			if d.bad {
				break
			}
			if pid == 0 {
				p.err = errno
				delete(s.procs, id)
				close(p.started)
				close(p.done)
				break
			}
			p.Pid = pid
			close(p.started)
		case typ == msgExited:
			st, ut, sy, rss := d.u32(), d.u64(), d.u64(), d.u64()
			if d.bad {
				break
			}
			p.status = syscall.WaitStatus(st)
			p.rusage.Utime = syscall.NsecToTimeval(int64(ut))
			p.rusage.Stime = syscall.NsecToTimeval(int64(sy))
			p.rusage.Maxrss = int64(rss)
			delete(s.procs, id)
			close(p.done)
		}
		s.mu.Unlock()
	}
}

// msgReader reads framed messages and the descriptors that come with them
// (in order: a message's descriptors arrive with its first byte).
type msgReader struct {
	conn *net.UnixConn
	buf  []byte
	fds  []int
	oob  []byte
}

func (r *msgReader) fill() error {
	if r.oob == nil {
		r.oob = make([]byte, unix.CmsgSpace(64*4))
	}
	chunk := make([]byte, 64<<10)
	n, oobn, _, _, err := r.conn.ReadMsgUnix(chunk, r.oob)
	if oobn > 0 {
		if msgs, perr := unix.ParseSocketControlMessage(r.oob[:oobn]); perr == nil {
			for _, m := range msgs {
				if fds, ferr := unix.ParseUnixRights(&m); ferr == nil {
					r.fds = append(r.fds, fds...)
				}
			}
		}
	}
	r.buf = append(r.buf, chunk[:n]...)
	if n == 0 && err == nil {
		err = io.EOF
	}
	return err
}

// next returns the next message's type and body.
func (r *msgReader) next() (byte, []byte, error) {
	for len(r.buf) < 4 || len(r.buf) < 4+int(binary.LittleEndian.Uint32(r.buf)) {
		if err := r.fill(); err != nil {
			return 0, nil, err
		}
	}
	n := int(binary.LittleEndian.Uint32(r.buf))
	if n < 1 {
		return 0, nil, errors.New("proctree: empty message")
	}
	body := make([]byte, n-1)
	copy(body, r.buf[5:4+n])
	typ := r.buf[4]
	r.buf = r.buf[4+n:]
	return typ, body, nil
}

// takeFDs removes the n oldest received descriptors.
func (r *msgReader) takeFDs(n int) ([]int, error) {
	if n > len(r.fds) {
		return nil, fmt.Errorf("proctree: %d descriptors announced, %d received", n, len(r.fds))
	}
	fds := r.fds[:n:n]
	r.fds = r.fds[n:]
	return fds, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

func appendStrings(b []byte, ss []string) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(ss)))
	for _, s := range ss {
		b = appendString(b, s)
	}
	return b
}

// decoder reads what appendString/appendStrings wrote.
type decoder struct {
	b   []byte
	bad bool
}

func (d *decoder) u32() uint32 {
	if len(d.b) < 4 {
		d.bad = true
		return 0
	}
	v := binary.LittleEndian.Uint32(d.b)
	d.b = d.b[4:]
	return v
}

func (d *decoder) u64() uint64 {
	if len(d.b) < 8 {
		d.bad = true
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *decoder) str() string {
	n := d.u32()
	if d.bad || uint64(n) > uint64(len(d.b)) {
		d.bad = true
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// strs returns nil for the "absent" marker.
func (d *decoder) strs() []string {
	n := d.u32()
	if n == ^uint32(0) || d.bad {
		return nil
	}
	if uint64(n) > uint64(len(d.b))/4 {
		d.bad = true
		return nil
	}
	ss := make([]string, n)
	for i := range ss {
		ss[i] = d.str()
	}
	return ss
}

var shared struct {
	mu sync.Mutex
	s  *Supervisor
}

// Shared returns the process-wide supervisor, started on first use (and
// again if it died). It is never closed: it kills what is left of the
// processes it started when this process ends, however it ends.
func Shared() (*Supervisor, error) {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if s := shared.s; s != nil {
		s.mu.Lock()
		dead := s.dead
		s.mu.Unlock()
		if dead == nil {
			return s, nil
		}
		go s.Close() // reap it
	}
	s, err := Start()
	if err != nil {
		return nil, err
	}
	shared.s = s
	return s, nil
}
