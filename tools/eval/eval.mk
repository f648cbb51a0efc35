# Rate-distortion evaluation on Kodak (tools/eval/eval.py), included by the
# top-level Makefile:
#
#   include tools/eval/eval.mk
#
#   make eval            eval-classic + eval-nic, then the report (plot,
#                        BD-rate tables, results/rd-kodak.md)
#   make eval-classic    JPEG, JPEG 2000, WebP, HEVC-intra 4:4:4, AVIF, JPEG XL
#   make eval-nic        every nic model and quality through build/install/bin/ffmpeg
#   make eval-report     results/*.json -> results/rd-kodak.{png,md}
#   make eval-test       unit tests of the metrics, BD-rate and the nic driver
#   make eval-deps       install the classic codecs' Debian packages
#
# Variables:
#   EVAL_PYTHON=/usr/bin/python3      interpreter with numpy, scipy, PIL, matplotlib
#   EVAL_FFMPEG=build/install/bin/ffmpeg   our FFmpeg build (nic)
#   EVAL_NIC_MODELS=factorized hyperprior hyperprior-msssim context context-msssim
#   EVAL_NIC_DEPS=build               what to make before eval-nic (empty: nothing)
#   EVAL_FLAGS=                       more eval.py options (e.g. --force, --limit 4)
#
# Measurements are cached in build/eval/cache.json, so reruns only code what
# changed (codec settings, tool versions, the ffmpeg binary or model files).
# The run is niced and pinned to one CPU by eval.py itself.

_eval_default_goal := $(.DEFAULT_GOAL)

EVAL_DIR        := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
EVAL_PYTHON     ?= /usr/bin/python3
EVAL_FFMPEG     ?= $(CURDIR)/build/install/bin/ffmpeg
EVAL_NIC_MODELS ?= factorized hyperprior hyperprior-msssim context context-msssim
EVAL_NIC_DEPS   ?= build
EVAL_FLAGS      ?=
EVAL_PKGS       := libjpeg-turbo-progs libopenjp2-tools webp ffmpeg libavif-bin \
                   libjxl-tools python3-numpy python3-scipy python3-pil \
                   python3-matplotlib

.PHONY: eval eval-classic eval-nic eval-report eval-test eval-deps

eval: eval-classic eval-nic
	$(EVAL_PYTHON) $(EVAL_DIR)/eval.py --report $(EVAL_FLAGS)

eval-classic: eval-deps
	$(EVAL_PYTHON) $(EVAL_DIR)/eval.py --classic $(EVAL_FLAGS)

eval-nic: $(EVAL_NIC_DEPS)
	$(EVAL_PYTHON) $(EVAL_DIR)/eval.py --ffmpeg $(EVAL_FFMPEG) \
		--nic $(EVAL_NIC_MODELS) $(EVAL_FLAGS)

eval-report:
	$(EVAL_PYTHON) $(EVAL_DIR)/eval.py --report $(EVAL_FLAGS)

eval-test:
	$(EVAL_PYTHON) -m unittest discover -s $(EVAL_DIR) -p '*_test.py' -v

eval-deps:
	@$(EVAL_DIR)/../apt-install.sh $(EVAL_PKGS)

# do not let the targets above become the default goal of the includer
.DEFAULT_GOAL := $(_eval_default_goal)
