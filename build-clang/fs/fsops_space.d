build-clang/fs/fsops_space.o: fs/fsops_space.c include/csvfs/errors.h \
  fs/data.h include/csvfs/proto.h fs/fsops.h fs/fsops_i.h \
  /usr/include/fuse3/fuse_lowlevel.h /usr/include/fuse3/fuse_common.h \
  /usr/include/fuse3/libfuse_config.h /usr/include/fuse3/fuse_opt.h \
  /usr/include/fuse3/fuse_log.h fs/itab.h fs/log.h net/mdc.h

include/csvfs/errors.h:

fs/data.h:

include/csvfs/proto.h:

fs/fsops.h:

fs/fsops_i.h:

/usr/include/fuse3/fuse_lowlevel.h:

/usr/include/fuse3/fuse_common.h:

/usr/include/fuse3/libfuse_config.h:

/usr/include/fuse3/fuse_opt.h:

/usr/include/fuse3/fuse_log.h:

fs/itab.h:

fs/log.h:

net/mdc.h:
