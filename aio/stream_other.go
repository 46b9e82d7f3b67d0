//go:build !unix

package aio

import "net"

type noRaw struct{}

type rawConnT = *noRaw

func rawConn(net.Conn) *noRaw { return nil }

func tryWrite(*noRaw, []byte) (int, bool) { return 0, false }

func acceptPausable(error) bool { return false }
