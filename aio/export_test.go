package aio

// Test helpers of helpers_internal_test.go for the tests of package
// aio_test (this file is compiled only with the tests).
var (
	TCPPeer   = tcpPeer
	AcceptOne = acceptOne
	RunOpen   = runOpen
	EchoLines = echoLines
)
