build-clang/tests/unit/rpc_test.o: tests/unit/rpc_test.c net/keyfile.h \
  net/mdc.h include/csvfs/proto.h net/msg.h net/rpc.h net/tls.h

net/keyfile.h:

net/mdc.h:

include/csvfs/proto.h:

net/msg.h:

net/rpc.h:

net/tls.h:
