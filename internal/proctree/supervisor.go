package proctree

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// supervisor is the state of the supervisor process.
type supervisor struct {
	conn *net.UnixConn
	wmu  sync.Mutex

	mu   sync.Mutex
	jobs map[int]uint64 // pid -> id of the processes started on request
	kick chan struct{}  // a child was started: the reaper may wait again
}

// supervise runs the supervisor process (see the package doc) and returns
// its exit status.
func supervise() int {
	fd, err := strconv.Atoi(os.Getenv(envKey))
	os.Unsetenv(envKey)
	if err != nil {
		fmt.Fprintln(os.Stderr, "trident proctree supervisor: bad", envKey)
		return 2
	}
	// Signals are for the owner: the supervisor ends when the owner's end
	// of the socket closes, never before (a SIGTERM to a whole process
	// group or session must not kill it before it has cleaned up). They
	// are caught and dropped, not ignored: an ignored signal would stay
	// ignored in the commands it starts.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT,
		syscall.SIGTSTP, syscall.SIGTTIN, syscall.SIGTTOU)
	go func() {
		for range sigs {
		}
	}()
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, "trident proctree supervisor: PR_SET_CHILD_SUBREAPER:", err)
		return 2
	}
	f := os.NewFile(uintptr(fd), "proctree")
	syscall.CloseOnExec(fd)
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "trident proctree supervisor:", err)
		return 2
	}
	sv := &supervisor{conn: c.(*net.UnixConn), jobs: map[int]uint64{}, kick: make(chan struct{}, 1)}
	if err := sv.send(msgReady, binary.LittleEndian.AppendUint32(nil, uint32(os.Getpid()))); err != nil {
		return 2
	}
	go sv.reap()
	// The Pdeathsig of the children is bound to the thread that starts
	// them: keep that thread for good.
	runtime.LockOSThread()
	r := &msgReader{conn: sv.conn}
	for {
		typ, b, err := r.next()
		if err != nil {
			break // the owner closed its end or died
		}
		if typ == msgSpawn {
			sv.spawn(r, b)
		}
	}
	sv.killAll()
	return 0
}

func (sv *supervisor) send(typ byte, body []byte) error {
	msg := make([]byte, 5, 5+len(body))
	binary.LittleEndian.PutUint32(msg, uint32(1+len(body)))
	msg[4] = typ
	msg = append(msg, body...)
	sv.wmu.Lock()
	defer sv.wmu.Unlock()
	return writeMsg(sv.conn, msg, nil)
}

func (sv *supervisor) spawn(r *msgReader, b []byte) {
	d := &decoder{b: b}
	id := d.u64()
	path, dir := d.str(), d.str()
	argv, env := d.strs(), d.strs()
	nfd := d.u32()
	reply := func(pid int, errno syscall.Errno) {
		out := binary.LittleEndian.AppendUint64(nil, id)
		out = binary.LittleEndian.AppendUint32(out, uint32(pid))
		out = binary.LittleEndian.AppendUint32(out, uint32(errno))
		sv.send(msgStarted, out)
	}
	if d.bad || nfd > 64 {
		reply(0, syscall.EINVAL)
		return
	}
	fds, err := r.takeFDs(int(nfd))
	if err != nil {
		reply(0, syscall.EBADF)
		return
	}
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	if env == nil {
		env = os.Environ()
	}
	files := make([]uintptr, len(fds))
	for i, fd := range fds {
		files[i] = uintptr(fd)
	}
	attr := &syscall.ProcAttr{Dir: dir, Env: env, Files: files,
		Sys: &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}}
	// Hold mu from the start to the report, so that the reaper, which
	// takes mu before it looks a pid up, reports the end after the start.
	sv.mu.Lock()
	defer sv.mu.Unlock()
	pid, err := syscall.ForkExec(path, argv, attr)
	if err != nil {
		errno, ok := err.(syscall.Errno)
		if !ok {
			errno = syscall.EINVAL
		}
		reply(0, errno)
		return
	}
	sv.jobs[pid] = id
	reply(pid, 0)
	select {
	case sv.kick <- struct{}{}:
	default:
	}
}

// reap reaps every child: the processes it started (their end is reported)
// and the orphans of their trees that were reparented to it.
func (sv *supervisor) reap() {
	for {
		var ws syscall.WaitStatus
		var ru syscall.Rusage
		pid, err := syscall.Wait4(-1, &ws, 0, &ru)
		if err == syscall.EINTR {
			continue
		}
		if err != nil { // ECHILD: wait for a new child
			<-sv.kick
			continue
		}
		sv.mu.Lock()
		id, ok := sv.jobs[pid]
		delete(sv.jobs, pid)
		sv.mu.Unlock()
		if !ok {
			continue
		}
		out := binary.LittleEndian.AppendUint64(nil, id)
		out = binary.LittleEndian.AppendUint32(out, uint32(ws))
		out = binary.LittleEndian.AppendUint64(out, uint64(ru.Utime.Nano()))
		out = binary.LittleEndian.AppendUint64(out, uint64(ru.Stime.Nano()))
		out = binary.LittleEndian.AppendUint64(out, uint64(ru.Maxrss))
		sv.send(msgExited, out)
	}
}

// killAll kills every process group it started, then every process below
// it, until none is left.
func (sv *supervisor) killAll() {
	sv.mu.Lock()
	for pid := range sv.jobs {
		syscall.Kill(-pid, syscall.SIGKILL)
		syscall.Kill(pid, syscall.SIGKILL)
	}
	sv.mu.Unlock()
	self := os.Getpid()
	pause := time.Millisecond
	for {
		kids := liveChildren(self)
		if len(kids) == 0 {
			return
		}
		for _, pid := range kids {
			// Its group first (a daemon's new group or session keeps
			// its members together), then itself.
			syscall.Kill(-pid, syscall.SIGKILL)
			syscall.Kill(pid, syscall.SIGKILL)
		}
		// The killed children's own children are reparented to us once
		// they are gone.
		time.Sleep(pause)
		pause = min(2*pause, 20*time.Millisecond)
	}
}

// liveChildren lists the processes whose parent is ppid and that are not
// zombies, from /proc.
func liveChildren(ppid int) []int {
	d, err := os.Open("/proc")
	if err != nil {
		return nil
	}
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	var kids []int
	buf := make([]byte, 512)
	for _, name := range names {
		if name[0] < '0' || name[0] > '9' {
			continue
		}
		fd, err := unix.Open("/proc/"+name+"/stat", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			continue
		}
		n, _ := unix.Read(fd, buf)
		unix.Close(fd)
		if n <= 0 {
			continue
		}
		st := buf[:n]
		// pid (comm) state ppid ...: comm may hold spaces and parens.
		i := bytes.LastIndexByte(st, ')')
		if i < 0 || i+4 > len(st) {
			continue
		}
		fields := bytes.Fields(st[i+1:])
		if len(fields) < 2 || string(fields[0]) == "Z" || string(fields[0]) == "X" {
			continue
		}
		if p, err := strconv.Atoi(string(fields[1])); err == nil && p == ppid {
			if pid, err := strconv.Atoi(name); err == nil {
				kids = append(kids, pid)
			}
		}
	}
	return kids
}
