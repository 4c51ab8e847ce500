build-neg/fs/lkc.o: fs/lkc.c fs/lkc.h lockd/plock.h fs/log.h net/mdc.h \
 include/csvfs/proto.h
fs/lkc.h:
lockd/plock.h:
fs/log.h:
net/mdc.h:
include/csvfs/proto.h:
