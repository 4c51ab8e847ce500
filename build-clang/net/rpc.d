build-clang/net/rpc.o: net/rpc.c net/mdc.h include/csvfs/proto.h \
  net/msg.h net/rpc.h net/tls.h

net/mdc.h:

include/csvfs/proto.h:

net/msg.h:

net/rpc.h:

net/tls.h:
