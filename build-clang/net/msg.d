build-clang/net/msg.o: net/msg.c meta/ondisk.h include/csvfs/ondisk.h \
  net/msg.h include/csvfs/proto.h

meta/ondisk.h:

include/csvfs/ondisk.h:

net/msg.h:

include/csvfs/proto.h:
