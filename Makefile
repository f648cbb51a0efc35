# nic: build FFmpeg with the nic (neural image codec) codec.
#
#   make [build]          fetch, patch, configure, build and install FFmpeg
#                         into build/install (FFMPEG=9.0 by default)
#   make demo             build, then encode/decode samples/ (build/demo/)
#   make check            nic unit tests + FATE nic tests + FFmpeg's own
#                         sample-free FATE tests of this configuration
#   make install          install ffmpeg, ffprobe, ffplay, the libraries and
#                         the models into PREFIX (/usr/local)
#   make fuzz             build and run the fuzzers (tools/fuzz/README.md)
#   make clean            remove FFmpeg trees, build/install and build/demo
#   make distclean        remove build/ entirely (downloads included)
#
# Variables:
#   FFMPEG=9.0|8.1|7.1|5.1   FFmpeg release line (default 9.0)
#   FFMPEG_SRC=/path         integrate into your own FFmpeg tree instead; the
#                            release line is read from its RELEASE file
#   PREFIX=/usr/local        for make install (DESTDIR is honoured)
#   INSTALL_LIBS=yes         FFCONFIG=small: make install also installs
#                            FFmpeg's libraries, headers and pkg-config
#                            files (the full build always does)
#   FFCONFIG=full|small|fuzz full (default): every native FFmpeg component,
#                            Debian's codec libraries, shared libraries;
#                            small: a minimal static build for quick loops;
#                            fuzz: the sanitizer build of `make fuzz`
#   JOBS=2                   parallel jobs for FFmpeg's build and FATE
#   NIC=no                   configure FFmpeg without nic (tests the patches
#                            and the rest of the build on their own)
#   CONFIGURE_EXTRA=...      more FFmpeg configure options

FFMPEG     ?= 9.0
PREFIX     ?= /usr/local
JOBS       ?= 2
NIC        ?= yes
BUILD      ?= build
FFMPEG_SRC ?=

ROOT     := $(CURDIR)
BUILDDIR := $(abspath $(BUILD))
DL       := $(BUILDDIR)/dl
STAGE    := $(BUILDDIR)/install

SUPPORTED     := 9.0 8.1 7.1 5.1
comma         := ,
empty         :=
space         := $(empty) $(empty)
UPSTREAM_9.0  := 9.0.2
UPSTREAM_8.1  := 8.1.2
UPSTREAM_7.1  := 7.1.5
UPSTREAM_5.1  := 5.1.9

ifneq ($(FFMPEG_SRC),)
  TREE := $(abspath $(FFMPEG_SRC))
  ifneq ($(origin FFMPEG),command line)
    FFMPEG := $(shell sed -n '1s/^\([0-9]*\.[0-9]*\).*/\1/p' $(TREE)/RELEASE 2>/dev/null)
  endif
  FFVER := $(FFMPEG)
else
  FFVER := $(UPSTREAM_$(FFMPEG))
  TREE  ?= $(BUILDDIR)/ffmpeg-$(FFVER)
endif

ifeq ($(filter $(FFMPEG),$(SUPPORTED)),)
  $(error FFmpeg release line '$(FFMPEG)' is not supported (supported: $(SUPPORTED)))
endif

PATCHES  := $(sort $(wildcard $(ROOT)/patches/$(FFMPEG)/*.patch))
TARBALL  := $(DL)/ffmpeg_$(FFVER).orig.tar.xz
# where configure installs to (and where NIC_MODEL_DIR points)
CONF_PREFIX ?= $(STAGE)

NIC_COMPONENTS := --enable-encoder=nic --enable-decoder=nic --enable-parser=nic
ifeq ($(NIC),no)
  NIC_COMPONENTS := --disable-encoder=nic --disable-decoder=nic --disable-parser=nic
endif

# FFCONFIG=full (the default, what users get and CI tests): every native
# component of FFmpeg, plus the external libraries an everyday FFmpeg has for
# images, video and audio (Debian's packages, FULL_DEBS), shared libraries
# beside the static ones, ffplay through SDL2.  The programs find the shared
# libraries through a RUNPATH to the install's lib/ (new dtags, so that
# LD_LIBRARY_PATH, which the tests set to the tree's own, wins).
#
# FFCONFIG=small: a deliberately small static FFmpeg (what nic needs to get
# images and clips in and out, plus what FATE needs for its tests); a quick
# local loop, not what users get.
FFCONFIG ?= full
FULL_LIBS := libdav1d libaom libx264 libx265 libvpx libwebp libopus \
	libvorbis libmp3lame libjxl libfreetype
FULL_DEBS := libdav1d-dev libaom-dev libx264-dev libx265-dev libvpx-dev \
	libwebp-dev libopus-dev libvorbis-dev libmp3lame-dev libjxl-dev \
	libfreetype-dev libbz2-dev liblzma-dev

COMMON_FLAGS := --prefix=$(CONF_PREFIX) --disable-doc --disable-autodetect \
	--enable-sdl2 --enable-zlib --enable-openblas

ifeq ($(FFCONFIG),full)
CONFIGURE_FLAGS := $(COMMON_FLAGS) $(NIC_COMPONENTS) \
	--enable-gpl --enable-shared --enable-rpath \
	--extra-ldexeflags=-Wl,--enable-new-dtags --extra-ldsoflags=-Wl,--enable-new-dtags \
	--enable-bzlib --enable-lzma --enable-iconv \
	$(addprefix --enable-,$(FULL_LIBS)) \
	$(CONFIGURE_EXTRA)
DEPS_EXTRA := $(FULL_DEBS)
else ifeq ($(FFCONFIG),small)
# (nic's components after --disable-everything, which would turn them off)
CONFIGURE_FLAGS := $(COMMON_FLAGS) --disable-everything $(NIC_COMPONENTS) \
	--enable-encoder=png,rawvideo,ffv1,ppm,pgm,pam,wrapped_avframe \
	--enable-decoder=png,rawvideo,ffv1,ppm,pgm,pam,wrapped_avframe,mjpeg,h264,hevc,mpeg4 \
	--enable-parser=png,mjpeg,h264,hevc,mpeg4video \
	--enable-demuxer=image2,image2pipe,image_nic_pipe,image_png_pipe,image_ppm_pipe,image_pgm_pipe,image_pam_pipe,image_jpeg_pipe \
	--enable-demuxer=matroska,nut,avi,mov,rawvideo,h264,hevc,m4v,mjpeg \
	--enable-muxer=image2,image2pipe,matroska,nut,avi,mov,mp4,rawvideo,framecrc,framemd5,framehash,md5,crc,hash,null \
	--enable-protocol=file,pipe$(if $(filter 5.1,$(FFMPEG)),,$(comma)fd) \
	--enable-bsf=h264_mp4toannexb,hevc_mp4toannexb,extract_extradata \
	--enable-indev=lavfi \
	--enable-filter=scale,format,null,copy,split,crop,pad,testsrc,testsrc2,color,psnr,ssim,showinfo,setpts,fps,trim \
	$(CONFIGURE_EXTRA)
DEPS_EXTRA :=
else ifeq ($(FFCONFIG),fuzz)
# FFCONFIG=fuzz: the libFuzzer + sanitizer build that `make fuzz` makes in a
# tree of its own (tools/fuzz/fuzz.mak)
CONFIGURE_FLAGS = $(FUZZ_CONFIGURE_FLAGS) $(CONFIGURE_EXTRA)
PATCHES += $(sort $(wildcard $(ROOT)/tools/fuzz/patches/$(FFMPEG)/*.patch))
DEPS_EXTRA :=
else
  $(error FFCONFIG must be full, small or fuzz, not '$(FFCONFIG)')
endif

# The tree's programs and test tools load the tree's own shared libraries.
TREE_LIBPATH = $(subst $(space),:,$(addprefix $(TREE)/,libavutil libswresample libswscale \
	libavcodec libavformat libavfilter libavdevice libpostproc))

.NOTPARALLEL:
.PHONY: all build deps fetch tree sync configure ffmpeg stage demo check \
        check-unit check-fate check-fate-ffmpeg check-bitexact check-parity \
        check-usage check-hostile bench bench-layers bench-e2e fuzz install clean distclean FORCE

all: build

build: deps stage

deps:
	@$(ROOT)/tools/install-deps.sh $(DEPS_EXTRA)

ifeq ($(FFMPEG_SRC),)
fetch:
	@$(ROOT)/tools/fetch-ffmpeg.sh $(FFMPEG) $(DL) $(BUILDDIR)/apt >/dev/null

# Unpack the checked tarball and apply patches/<release>/ in order.
$(TREE)/.nic-patched: $(PATCHES) | fetch
	rm -rf $(TREE) $(TREE).tmp
	mkdir -p $(TREE).tmp
	tar -xJf $(TARBALL) -C $(TREE).tmp --strip-components=1
	set -e; cd $(TREE).tmp; for p in $(PATCHES); do \
		echo "applying $${p#$(ROOT)/}"; \
		patch -p1 -s -f --no-backup-if-mismatch < $$p; \
	done
	touch $(TREE).tmp/.nic-patched
	mv $(TREE).tmp $(TREE)
else
fetch:
	@test -f $(TREE)/configure || { echo "FFMPEG_SRC=$(FFMPEG_SRC) is not an FFmpeg tree"; exit 1; }

# Apply the patches to the user's tree unless they are applied already.
$(TREE)/.nic-patched: $(PATCHES) | fetch
	set -e; cd $(TREE); for p in $(PATCHES); do \
		if patch -p1 -R -s -f --dry-run < $$p >/dev/null 2>&1; then \
			echo "already applied: $${p#$(ROOT)/}"; \
		else \
			echo "applying $${p#$(ROOT)/}"; \
			patch -p1 -s -f --no-backup-if-mismatch < $$p; \
		fi; \
	done
	touch $@
endif

tree: $(TREE)/.nic-patched

# Copy our sources into the tree; only files whose content changed are
# copied, so FFmpeg's make rebuilds just what depends on them.
#   $(call copy_changed,FILES,DESTDIR[,DESTNAME])
define copy_changed
	set -e; mkdir -p $(2); for f in $(1); do \
		[ -f "$$f" ] || continue; \
		t=$(2)/$(if $(3),$(3),$$(basename $$f)); \
		cmp -s "$$f" "$$t" || { cp "$$f" "$$t"; echo "  sync $${f#$(ROOT)/} -> $${t#$(TREE)/}"; }; \
	done
endef

sync: tree
	@$(call copy_changed,$(wildcard $(ROOT)/libavcodec_nic/*.c $(ROOT)/libavcodec_nic/*.h $(ROOT)/libavcodec_nic/nic.mak),$(TREE)/libavcodec)
	@$(call copy_changed,$(wildcard $(ROOT)/libavcodec_nic/tests/*.[ch]),$(TREE)/libavcodec/tests)
	@$(call copy_changed,$(wildcard $(ROOT)/libavformat_nic/*.c $(ROOT)/libavformat_nic/*.h),$(TREE)/libavformat)
	@$(call copy_changed,$(wildcard $(ROOT)/fate-tests/nic.mak),$(TREE)/tests/fate)
	@set -e; cd $(ROOT)/fate-tests 2>/dev/null || exit 0; \
	find . -type f ! -path ./nic.mak | while read -r f; do \
		t=$(TREE)/tests/nic/$${f#./}; mkdir -p "$$(dirname "$$t")"; \
		cmp -s "$$f" "$$t" || { cp "$$f" "$$t"; echo "  sync fate-tests/$${f#./} -> tests/nic/$${f#./}"; }; \
	done
	@$(call copy_changed,$(ROOT)/configure-snippet,$(TREE)/ffbuild,nic-configure.sh)

# Re-run configure when its options, the snippet or the patches change.
$(TREE)/.nic-configure-flags: FORCE | tree
	@echo '$(CONFIGURE_FLAGS)' | cmp -s - $@ || echo '$(CONFIGURE_FLAGS)' > $@

$(TREE)/ffbuild/config.mak: $(TREE)/.nic-configure-flags $(TREE)/.nic-patched $(ROOT)/configure-snippet | sync
	cd $(TREE) && ./configure $(CONFIGURE_FLAGS)
	@touch $@

configure: $(TREE)/ffbuild/config.mak

ffmpeg: configure sync
	nice $(MAKE) -C $(TREE) -j$(JOBS)

# Install into CONF_PREFIX (build/install unless installing elsewhere) with
# the models next to it, where NIC_MODEL_DIR points.
FF_INSTALL ?= install
stage: ffmpeg
	$(MAKE) -C $(TREE) $(FF_INSTALL)
	$(call install_models,$(DESTDIR)$(CONF_PREFIX)/share/ffmpeg/nic)

define install_models
	@mkdir -p $(1)
	@set -e; n=0; for m in $(wildcard $(ROOT)/models/*.gguf); do \
		install -m 644 "$$m" $(1)/; n=$$((n+1)); done; \
	echo "installed $$n model file(s) into $(1)"
endef

demo: build
	NIC_DEMO_BIN=$(STAGE)/bin $(ROOT)/tools/demo.sh $(BUILDDIR)/demo

# Unit tests and FATE: `fate-nic` runs ours; `fate` without SAMPLES runs
# every test of FFmpeg's that this configuration enables and that needs no
# sample files.
check: build check-unit check-usage check-hostile check-fate-ffmpeg check-bitexact check-parity

# The FATE tests take the models from NIC_MODEL_PATH (default: models/).
NIC_MODEL_PATH ?= $(ROOT)/models
# GIT_CEILING_DIRECTORIES: a tree under build/ must not be taken for part of
# this repository's git checkout (fate-source runs git grep).
FATE_ENV := NIC_MODEL_PATH=$(NIC_MODEL_PATH) GIT_CEILING_DIRECTORIES=$(abspath $(TREE)/..) \
	LD_LIBRARY_PATH=$(TREE_LIBPATH)

check-unit check-fate: ffmpeg
	$(FATE_ENV) nice $(MAKE) -C $(TREE) -j$(JOBS) fate-nic

# The README's "Using it" commands on generated MP4, MOV, MKV, JPEG, WebP,
# TIFF, BMP, 16-bit PNG, PNG with alpha and GIF inputs, through the
# installed programs (what users run).
check-usage: stage
	NIC_MODEL_PATH=$(NIC_MODEL_PATH) $(ROOT)/tools/check-usage.sh $(STAGE)/bin $(BUILDDIR)/usage

check-fate-ffmpeg: ffmpeg
	$(FATE_ENV) nice $(MAKE) -C $(TREE) -j$(JOBS) fate SAMPLES=

# Tools linked against the tree's static libraries (the codec core, no
# (de)muxers): nictool for parity and benchmarks, the sgemm yardstick.
NICTOOL := $(BUILDDIR)/nictool
TREE_LIBS = $(TREE)/libavcodec/libavcodec.a $(TREE)/libavutil/libavutil.a \
	$$(sed -n 's/^EXTRALIBS-avcodec=//p; s/^EXTRALIBS-avutil=//p' $(TREE)/ffbuild/config.mak)
BLAS_CFLAGS = $$(pkg-config --cflags openblas)

$(NICTOOL): $(ROOT)/tools/nictool.c ffmpeg
	$(CC) -O2 -std=c11 -D_GNU_SOURCE -I$(TREE) $(BLAS_CFLAGS) $< -o $@ $(TREE_LIBS) -lpthread -lm

# Forged hostile packets: rejected as invalid data, within bounded memory
# and time (tools/check-hostile.sh).
check-hostile: stage $(NICTOOL)
	$(ROOT)/tools/check-hostile.sh $(STAGE)/bin $(NICTOOL) $(NIC_MODEL_PATH) $(BUILDDIR)/hostile

$(BUILDDIR)/sgemm_peak: $(ROOT)/tools/sgemm_peak.c | deps
	$(CC) -O2 $(BLAS_CFLAGS) $< -o $@ $$(pkg-config --libs openblas)

# Cross-kernel determinism on the Kodak images (../shared/data/kodak, beside
# the checkout: CI has it; a user's clone may not, and is told so).
KODAK ?= $(wildcard $(ROOT)/../shared/data/kodak/kodim*.png)
check-bitexact: ffmpeg $(NICTOOL)
	@if [ -z "$(KODAK)" ]; then echo "check-bitexact: skipped, no Kodak images in ../shared/data/kodak"; \
	else $(MAKE) -C $(TREE) tests/tiny_psnr >/dev/null && \
	LD_LIBRARY_PATH=$(TREE_LIBPATH) NIC_MODEL_PATH=$(NIC_MODEL_PATH) NICTOOL=$(NICTOOL) \
		$(ROOT)/tools/bitexact.sh $(TREE)/ffmpeg \
		$(TREE)/tests/tiny_psnr $(BUILDDIR)/bitexact $(KODAK); fi

# Parity with PyTorch: the C encoder's latents, read back by an independent
# Python reader, against a forward pass of the same model file; the
# gradient -effort follows (nic_nn_grad.c) against torch.autograd; the
# context model: its streams and decoded latents bit for bit against the
# integer reference (models/ctxparity.py), for the installed context.gguf
# and context-msssim.gguf and for untrained models of both priors
# (export.py --context-fresh); and the context models read back into
# training checkpoints (models/ctximport.py) quantize to the files' integers.
PARITY_IMAGES ?= $(wildcard $(ROOT)/samples/*.png)
CTX_FRESH := $(BUILDDIR)/ctx-fresh
check-parity: $(NICTOOL)
	@$(MAKE) -s -C $(ROOT)/models deps
	set -e; for m in factorized hyperprior hyperprior-msssim; do \
		/usr/bin/python3 $(ROOT)/models/parity.py --nictool $(NICTOOL) \
			--model $(NIC_MODEL_PATH)/$$m.gguf --quality 0 7 -- $(PARITY_IMAGES); \
	done
	set -e; for img in $(PARITY_IMAGES); do for q in 0 7; do \
		/usr/bin/python3 $(ROOT)/models/grad_parity.py --nictool $(NICTOOL) \
			--model $(NIC_MODEL_PATH)/hyperprior.gguf --quality $$q --tau 0.3 $$img; \
	done; done
	set -e; for p in gaussian gmm; do \
		mkdir -p $(CTX_FRESH)-$$p; \
		/usr/bin/python3 $(ROOT)/models/export.py --context-fresh $$p --out $(CTX_FRESH)-$$p; \
	done
	set -e; for m in $(wildcard $(NIC_MODEL_PATH)/context.gguf $(NIC_MODEL_PATH)/context-msssim.gguf) \
			$(CTX_FRESH)-gaussian/context.gguf $(CTX_FRESH)-gmm/context.gguf; do \
		/usr/bin/python3 $(ROOT)/models/ctxparity.py --nictool $(NICTOOL) \
			--model $$m --quality 0 7 -- $(PARITY_IMAGES); \
	done
	set -e; for m in $(wildcard $(NIC_MODEL_PATH)/context.gguf $(NIC_MODEL_PATH)/context-msssim.gguf); do \
		/usr/bin/python3 $(ROOT)/models/ctximport.py $$m --out $(BUILDDIR)/ctximport.pt; \
	done

# make bench: speed on this machine (a benchmark, not a test): the layers
# (bench.sh), then the wall time of the commands users type (bench_e2e.py,
# on E2E_IMAGES, through the installed programs).
BENCH_IMAGES ?= $(or $(KODAK),$(wildcard $(ROOT)/samples/*.png))
E2E_IMAGES ?= $(or $(filter %/kodim01.png %/kodim05.png %/kodim13.png %/kodim19.png,$(KODAK)),\
	$(wildcard $(ROOT)/samples/*.png))
bench: bench-layers bench-e2e
bench-layers: $(NICTOOL) $(BUILDDIR)/sgemm_peak
	@$(MAKE) -s -C $(ROOT)/models deps
	$(ROOT)/tools/bench.sh $(NICTOOL) $(BUILDDIR)/sgemm_peak $(NIC_MODEL_PATH) \
		$(ROOT)/results/bench.json $(BENCH_IMAGES)
bench-e2e: $(NICTOOL) stage
	/usr/bin/python3 $(ROOT)/tools/bench_e2e.py --bin $(STAGE)/bin --models $(NIC_MODEL_PATH) \
		--nictool $(NICTOOL) --out $(ROOT)/results/bench-e2e.json $(E2E_IMAGES)

include $(ROOT)/tools/fuzz/fuzz.mak
include $(ROOT)/tools/eval/eval.mk

# make install: programs, presets and models (libraries and headers too
# with INSTALL_LIBS=yes) from a tree configured for PREFIX, so that the
# compiled-in model directory is PREFIX's; that is a tree of its own unless
# PREFIX is build/install.
# The full build's programs use its shared libraries, so it always installs
# them (with headers and pkg-config files, for other programs to use).
INSTALL_WHAT := $(if $(filter yes,$(INSTALL_LIBS))$(filter full,$(FFCONFIG)),install,install-progs install-data)
ifeq ($(abspath $(PREFIX)),$(STAGE))
install: build
else ifeq ($(FFMPEG_SRC),)
install: deps
	$(MAKE) stage CONF_PREFIX=$(abspath $(PREFIX)) TREE=$(BUILDDIR)/ffmpeg-$(FFVER)-prefix \
		FF_INSTALL="$(INSTALL_WHAT)"
else
install: deps
	$(MAKE) stage CONF_PREFIX=$(abspath $(PREFIX)) FF_INSTALL="$(INSTALL_WHAT)"
endif

clean:
	rm -rf $(BUILDDIR)/ffmpeg-* $(STAGE) $(BUILDDIR)/demo

distclean:
	rm -rf $(BUILDDIR)

FORCE:
