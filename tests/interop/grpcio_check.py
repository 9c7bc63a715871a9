#!/usr/bin/python3
"""Interop check: a gRPC client that is not ours talks to a real server.

Debian's python3-grpcio, with stubs generated here by python3-grpc-tools
from the standard grpc-proto files, checks that a fivestar server (the
binary, started as in production) serves grpc.health.v1 for itself and its
service and server reflection (v1alpha), then that it exits 0 on SIGTERM.

Usage: grpcio_check.py <server binary> <its gRPC service's full name>
  e.g. grpcio_check.py build/services/registry/fivestar-registry \
           fivestar.registry.v1.RegistryService
Exits 0 when every check passes; prints what failed otherwise.
"""

import importlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import grpc
from grpc_tools import protoc

GRPC_PROTO_DIR = "/usr/share/grpc-proto"
PROTOS = {
    "health": "grpc/health/v1/health.proto",
    "reflection": "grpc/reflection/v1alpha/reflection.proto",
}
HEALTH_SERVICE = "grpc.health.v1.Health"
STARTUP_TIMEOUT_S = 10
EXIT_TIMEOUT_S = 15
RPC_TIMEOUT_S = 5


def generate_stubs(out_dir):
    """Generates <name>_pb2 and <name>_pb2_grpc modules into out_dir.

    The protos are copied flat first: generated under their own paths they
    would form a package "grpc", shadowing grpcio itself.
    """
    flat = os.path.join(out_dir, "protos")
    os.mkdir(flat)
    for name, path in PROTOS.items():
        shutil.copy(os.path.join(GRPC_PROTO_DIR, path),
                    os.path.join(flat, name + ".proto"))
    # grpc_tools bundles google/protobuf/*.proto; neither proto imports
    # them today, but keep protoc able to find them if one ever does.
    args = ["grpc_tools.protoc", "-I" + flat,
            "-I" + os.path.join(os.path.dirname(protoc.__file__), "_proto"),
            "--python_out=" + out_dir, "--grpc_python_out=" + out_dir]
    args += [name + ".proto" for name in PROTOS]
    if protoc.main(args) != 0:
        raise RuntimeError("grpc_tools.protoc failed: %s" % " ".join(args))
    sys.path.insert(0, out_dir)
    return {name: (importlib.import_module(name + "_pb2"),
                   importlib.import_module(name + "_pb2_grpc"))
            for name in PROTOS}


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerInteropTest(unittest.TestCase):
    # Set from the command line: the server binary and its gRPC service.
    binary = None
    service = None

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="fivestar-interop-")
        stubs = generate_stubs(cls.tmp)
        cls.health_pb2, cls.health_grpc = stubs["health"]
        cls.reflection_pb2, cls.reflection_grpc = stubs["reflection"]
        cls.port = free_port()
        cls.log = open(os.path.join(cls.tmp, "server.log"), "w+b")
        cls.process = subprocess.Popen(
            [cls.binary, "--host=127.0.0.1", "--port=%d" % cls.port,
             "--metrics_port=-1", "--disable_auth",
             "--database=" + os.path.join(cls.tmp, "server.db")],
            stdout=cls.log, stderr=subprocess.STDOUT)
        cls.channel = None
        cls._wait_until_listening()
        cls.channel = grpc.insecure_channel("127.0.0.1:%d" % cls.port)
        cls.health = cls.health_grpc.HealthStub(cls.channel)
        cls.reflection = cls.reflection_grpc.ServerReflectionStub(cls.channel)
        cls._wait_until_serving()

    @classmethod
    def _wait_until_listening(cls):
        """Waits until the port accepts TCP connections.

        A gRPC channel that tried too early would sit in reconnect backoff
        (1 s, 1.6 s, 2.56 s, ...) and keep failing after the server is up.
        """
        cls.deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < cls.deadline and cls.process.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", cls.port),
                                         timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        cls._fail_startup("no listening port")

    @classmethod
    def _wait_until_serving(cls):
        last_error = None
        while time.monotonic() < cls.deadline:
            if cls.process.poll() is not None:
                break
            try:
                response = cls.health.Check(
                    cls.health_pb2.HealthCheckRequest(service=""),
                    timeout=1, wait_for_ready=True)
                if response.status == \
                        cls.health_pb2.HealthCheckResponse.SERVING:
                    return
                last_error = "status %d" % response.status
            except grpc.RpcError as error:
                last_error = "%s: %s" % (error.code(), error.details())
            time.sleep(0.1)
        cls._fail_startup("last health answer %s" % last_error)

    @classmethod
    def _fail_startup(cls, what):
        # unittest skips tearDownClass when setUpClass fails.
        log = cls._read_log()
        cls.tearDownClass()
        raise AssertionError(
            "fivestar-registry was not SERVING within %d s (%s, exit code "
            "%s); its log:\n%s" % (STARTUP_TIMEOUT_S, what,
                                   cls.process.returncode, log))

    @classmethod
    def _read_log(cls):
        cls.log.flush()
        cls.log.seek(0)
        return cls.log.read().decode("utf-8", "replace")

    @classmethod
    def tearDownClass(cls):
        if cls.process.poll() is None:
            cls.process.kill()
            cls.process.wait()
        if cls.channel is not None:
            cls.channel.close()
        cls.log.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def check(self, service):
        return self.health.Check(
            self.health_pb2.HealthCheckRequest(service=service),
            timeout=RPC_TIMEOUT_S).status

    def test_1_health_reports_server_and_service_serving(self):
        serving = self.health_pb2.HealthCheckResponse.SERVING
        self.assertEqual(self.check(""), serving)
        self.assertEqual(self.check(self.service), serving)

    def test_2_health_of_unknown_service_is_not_found(self):
        with self.assertRaises(grpc.RpcError) as caught:
            self.check("no.such.Service")
        self.assertEqual(caught.exception.code(), grpc.StatusCode.NOT_FOUND)

    def test_3_reflection_lists_the_service_and_health(self):
        request = self.reflection_pb2.ServerReflectionRequest(
            list_services="")
        responses = list(self.reflection.ServerReflectionInfo(
            iter([request]), timeout=RPC_TIMEOUT_S))
        self.assertEqual(len(responses), 1)
        self.assertEqual(responses[0].WhichOneof("message_response"),
                         "list_services_response")
        names = {s.name
                 for s in responses[0].list_services_response.service}
        self.assertIn(self.service, names)
        self.assertIn(HEALTH_SERVICE, names)

    def test_4_reflection_describes_the_service(self):
        request = self.reflection_pb2.ServerReflectionRequest(
            file_containing_symbol=self.service)
        responses = list(self.reflection.ServerReflectionInfo(
            iter([request]), timeout=RPC_TIMEOUT_S))
        self.assertEqual(len(responses), 1)
        self.assertEqual(responses[0].WhichOneof("message_response"),
                         "file_descriptor_response")
        self.assertTrue(
            responses[0].file_descriptor_response.file_descriptor_proto)

    def test_5_a_request_that_does_not_parse_is_invalid_argument(self):
        # Raw bytes on the wire, as a client with another schema (or a
        # hostile one) sends them: field 1 (a string id) holding bytes that
        # are not UTF-8, then bytes that are not a protobuf message at all.
        # gRPC's callback API would answer UNIMPLEMENTED with no message.
        method = self.service.rsplit(".", 1)[1][:-len("Service")]
        get = {"Registry": "GetVillage", "Projects": "GetProject"}[method]
        call = self.channel.unary_unary(
            "/%s/%s" % (self.service, get),
            request_serializer=None, response_deserializer=None)
        for payload in (b"\x0a\x02\xc3\x28", b"\xff\xff\xff"):
            with self.assertRaises(grpc.RpcError) as caught:
                call(payload, timeout=RPC_TIMEOUT_S)
            self.assertEqual(caught.exception.code(),
                             grpc.StatusCode.INVALID_ARGUMENT)
            self.assertEqual(
                caught.exception.details(),
                "the request does not parse as %s.%sRequest (e.g. a string "
                "that is not valid UTF-8); nothing was done"
                % (self.service.rsplit(".", 1)[0], get))

    # Runs last (unittest orders by name): it stops the server. The channel
    # stays connected, as real clients' do; gRPC then waits for the client
    # to go away after its GOAWAY (about 5 s with grpcio 1.51), within the
    # server's 10 s --shutdown_grace.
    def test_9_sigterm_exits_zero(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=EXIT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.fail("the server is still running %d s after SIGTERM; "
                      "its log:\n%s" % (EXIT_TIMEOUT_S, self._read_log()))
        self.assertEqual(code, 0, "exit code %d; its log:\n%s"
                         % (code, self._read_log()))


def main():
    if len(sys.argv) != 3 or not os.access(sys.argv[1], os.X_OK):
        print(__doc__, file=sys.stderr)
        return 2
    ServerInteropTest.binary = os.path.abspath(sys.argv[1])
    ServerInteropTest.service = sys.argv[2]
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(
        ServerInteropTest)
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
