build-clang/fs/fsops_file.o: fs/fsops_file.c include/csvfs/errors.h \
  include/csvfs/ondisk.h include/csvfs/proto.h fs/data.h fs/fsops_i.h \
  /usr/include/fuse3/fuse_lowlevel.h /usr/include/fuse3/fuse_common.h \
  /usr/include/fuse3/libfuse_config.h /usr/include/fuse3/fuse_opt.h \
  /usr/include/fuse3/fuse_log.h fs/itab.h fs/log.h lockd/lockd.h \
  net/mdc.h

include/csvfs/errors.h:

include/csvfs/ondisk.h:

include/csvfs/proto.h:

fs/data.h:

fs/fsops_i.h:

/usr/include/fuse3/fuse_lowlevel.h:

/usr/include/fuse3/fuse_common.h:

/usr/include/fuse3/libfuse_config.h:

/usr/include/fuse3/fuse_opt.h:

/usr/include/fuse3/fuse_log.h:

fs/itab.h:

fs/log.h:

lockd/lockd.h:

net/mdc.h:
