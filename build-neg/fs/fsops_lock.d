build-neg/fs/fsops_lock.o: fs/fsops_lock.c fs/fsops.h fs/fsops_i.h \
 /usr/include/fuse3/fuse_lowlevel.h /usr/include/fuse3/fuse_common.h \
 /usr/include/fuse3/libfuse_config.h /usr/include/fuse3/fuse_opt.h \
 /usr/include/fuse3/fuse_log.h include/csvfs/proto.h fs/itab.h fs/lkc.h \
 lockd/plock.h fs/log.h net/mdc.h
fs/fsops.h:
fs/fsops_i.h:
/usr/include/fuse3/fuse_lowlevel.h:
/usr/include/fuse3/fuse_common.h:
/usr/include/fuse3/libfuse_config.h:
/usr/include/fuse3/fuse_opt.h:
/usr/include/fuse3/fuse_log.h:
include/csvfs/proto.h:
fs/itab.h:
fs/lkc.h:
lockd/plock.h:
fs/log.h:
net/mdc.h:
