"""moto on 127.0.0.1:PORT that also executes Step Functions state machines.

    moto_executing.py PORT

The moto_server command only records executions; moto runs them when started in-process
with this configuration, behind its threaded server. A state machine's Lambda tasks then
call the Lambda Invoke API at AWS_ENDPOINT_URL_LAMBDA (set it in this process's
environment), which is how a local Runtime API runs the real function. Stops when its
stdin reaches end of file, so it never outlives the process that started it.
"""

import sys

from moto import mock_aws
from moto.server import ThreadedMotoServer


def main() -> int:
    port = int(sys.argv[1])
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        sys.stdin.read()
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
