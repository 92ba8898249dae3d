// SPDX-License-Identifier: MIT
/*
 * The Azure Linux VM-extension handler protocol, as the Azure Linux agent
 * (WALinuxAgent, azurelinuxagent/ga/exthandlers.py) speaks it: the handler directory's
 * HandlerEnvironment.json and HandlerManifest.json, the settings of each sequence
 * number (config/<n>.settings), the status the agent reads back (status/<n>.status),
 * the heartbeat file, and mrseq. Parsing and formatting are pure; the writers go
 * through ibup_file_replace() with a context rooted at the folder the agent named.
 */
#ifndef IBUP_VMEXT_H
#define IBUP_VMEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "ibup/ctx.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Exit codes, and the code of a status: InfiniBandDriverLinux's documented ones
 * where one applies, so tooling written against that extension reads ibup's alike.
 */
enum ibup_vmext_code {
	IBUP_VMEXT_OK = 0, /* operation successful */
	IBUP_VMEXT_USAGE = 1, /* incorrect usage: settings, handler environment */
	IBUP_VMEXT_NO_LIS = 10, /* (not used: Linux Integration Services) */
	IBUP_VMEXT_NO_IB = 11, /* no InfiniBand on this VM */
	IBUP_VMEXT_UNSUPPORTED_IMAGE = 12, /* the image cannot run this build (arch) */
	IBUP_VMEXT_UNSUPPORTED_SIZE = 13, /* (not used: VM size not supported) */
	IBUP_VMEXT_FAILED = 14, /* operation unsuccessful: see the status */
};

/* A status's or a substatus's verdict; the agent knows exactly these four. */
enum ibup_vmext_state {
	IBUP_VMEXT_TRANSITIONING = 0,
	IBUP_VMEXT_WARNING,
	IBUP_VMEXT_ERROR,
	IBUP_VMEXT_SUCCESS,
};
const char *ibup_vmext_state_name(enum ibup_vmext_state s); /* "transitioning", ... */

/* The agent shows at most this much of a message; ibup never writes longer ones. */
#define IBUP_VMEXT_MESSAGE_MAX 1024
/* Substatuses a status has at most: one per step (install, ipoib, check, ...). */
#define IBUP_VMEXT_MAX_STEPS 8
/* Sequence numbers: the agent's are small non-negative integers. */
#define IBUP_VMEXT_SEQ_MAX 2147483647u

/* HandlerEnvironment.json: where the agent wants things. Paths are absolute. */
struct ibup_vmext_env {
	char *name; /* the handler's name ("Ibup.InfiniBand") */
	char *version; /* the file's schema version, as written ("1.0") */
	char *log_folder, *config_folder, *status_folder;
	char *heartbeat_file;
};

/**
 * ibup_vmext_env_parse() - parse HandlerEnvironment.json
 * @text: the file's content (need not be NUL-terminated)
 * @len: its length
 * @ret: filled on success; release with ibup_vmext_env_release()
 * @reterr_diag: on -EBADMSG, what is wrong
 *
 * The file is a JSON array whose first element holds "name", "version" and
 * "handlerEnvironment" with "configFolder" and "statusFolder" (required, absolute),
 * "logFolder" and "heartbeatFile" (optional). Other keys are ignored, as the agent
 * adds some over time (eventsFolder).
 *
 * Return: 0, -EBADMSG, or -ENOMEM.
 */
int ibup_vmext_env_parse(const char *text, size_t len, struct ibup_vmext_env *ret,
			 struct ibup_diag *reterr_diag);
void ibup_vmext_env_release(struct ibup_vmext_env *env);

/**
 * ibup_vmext_env_read() - read HandlerEnvironment.json from the handler directory
 * @handler_dir: the handler directory (absolute, or relative to the working directory)
 * @ret: filled on success; release with ibup_vmext_env_release()
 * @reterr_diag: on -EBADMSG, what is wrong
 *
 * Return: 0, -ENOENT when the file is missing, -EBADMSG, or another negative errno.
 */
int ibup_vmext_env_read(const char *handler_dir, struct ibup_vmext_env *ret,
			struct ibup_diag *reterr_diag);

/**
 * ibup_vmext_env_fallback() - the layout the agent gives, for when the file is unusable
 * @handler_dir: the handler directory, absolute
 * @ret: <dir>/config, <dir>/status, <dir>/heartbeat.log, name "ibup"
 *
 * So that a missing or malformed HandlerEnvironment.json is still reported where the
 * agent looks (its ExtHandlerInstance keeps status/ under the handler directory).
 *
 * Return: 0, or -ENOMEM.
 */
int ibup_vmext_env_fallback(const char *handler_dir, struct ibup_vmext_env *ret);

/**
 * ibup_vmext_manifest_heartbeat() - whether HandlerManifest.json asks for a heartbeat
 * @text: the manifest's content
 * @len: its length
 * @ret: handlerManifest.reportHeartbeat of the first element (the agent also takes the
 *	string "true")
 *
 * Return: 0, or -EBADMSG when the manifest is not the agent's shape.
 */
int ibup_vmext_manifest_heartbeat(const char *text, size_t len, bool *ret);

/**
 * ibup_vmext_manifest_read() - ibup_vmext_manifest_heartbeat() of the handler's manifest
 * @handler_dir: the handler directory (HandlerManifest.json)
 * @ret_heartbeat: whether it asks for a heartbeat
 *
 * Return: 0, -ENOENT, -EBADMSG, or another negative errno.
 */
int ibup_vmext_manifest_read(const char *handler_dir, bool *ret_heartbeat);

/**
 * ibup_vmext_parse_seq() - a sequence number as the agent passes it (ConfigSequenceNumber)
 * @s: decimal digits
 * @ret: the number
 *
 * Return: 0, or -EINVAL.
 */
int ibup_vmext_parse_seq(const char *s, unsigned *ret);

/**
 * ibup_vmext_newest_seq() - the sequence number of the newest config/<n>.settings
 * @config_folder: the folder
 * @ret: the number of the most recently modified one (ties: the larger number), as
 *	the agent itself decides when it has none from the goal state
 *
 * Return: 0, -ENOENT when there is none, or another negative errno.
 */
int ibup_vmext_newest_seq(const char *config_folder, unsigned *ret);

/* The public settings ibup's handler takes (docs/vmext-settings.schema.json). */
struct ibup_vmext_settings {
	bool install; /* "stack" was given: install the driver stack first */
	char stack[8]; /* "auto", "inbox", "doca", "mofed" (ibup install --stack) */
	char version[64]; /* "version": the vendor stack's version, or "" */
	bool secure_boot_enroll; /* "secureBoot": "enroll" (default "refuse") */
	bool replace; /* "replace": remove another stack first */
	bool ipoib; /* apply the platform's IPoIB addresses, and at every boot */
	bool check; /* run ibup check; its failures fail the extension */
	bool has_protected; /* protectedSettings was given (ibup takes none) */
};

/**
 * ibup_vmext_settings_parse() - parse a config/<n>.settings file
 * @text: its content; empty (the agent writes an empty 0.settings when there are no
 *	settings) means the defaults
 * @len: its length
 * @ret: filled on success: the defaults (ipoib and check true) where not given
 * @reterr_diag: on -EBADMSG, what is wrong, naming the key
 *
 * runtimeSettings[0].handlerSettings.publicSettings is read; a missing or null
 * publicSettings means the defaults (no install; ipoib and check), "version",
 * "secureBoot" and "replace" need "stack", and protectedSettings (absent, null, or the
 * agent's base64 blob) is never decrypted. An unknown key, or a value of the wrong
 * type, is an error naming the key.
 *
 * Return: 0, -EBADMSG, or -ENOMEM.
 */
int ibup_vmext_settings_parse(const char *text, size_t len,
			      struct ibup_vmext_settings *ret,
			      struct ibup_diag *reterr_diag);

/**
 * ibup_vmext_settings_read() - read and parse config/<seq>.settings
 * @config_folder: the handler environment's configFolder
 * @seq: the sequence number
 * @ret: as ibup_vmext_settings_parse()
 * @reterr_diag: on -EBADMSG, what is wrong
 *
 * Return: 0, -ENOENT when there is no such file, -EBADMSG, or another negative errno.
 */
int ibup_vmext_settings_read(const char *config_folder, unsigned seq,
			     struct ibup_vmext_settings *ret,
			     struct ibup_diag *reterr_diag);

/* One step's verdict: a substatus. */
struct ibup_vmext_substatus {
	const char *name; /* "ipoib", "check"; static */
	enum ibup_vmext_state state;
	int code; /* enum ibup_vmext_code */
	char *message; /* owned; at most IBUP_VMEXT_MESSAGE_MAX bytes once set */
};

/* What status/<n>.status says. */
struct ibup_vmext_status {
	const char *operation; /* "Install", "Enable", ...; static */
	enum ibup_vmext_state state;
	int code; /* enum ibup_vmext_code */
	char *message; /* owned */
	struct ibup_vmext_substatus sub[IBUP_VMEXT_MAX_STEPS];
	unsigned n_sub;
};
void ibup_vmext_status_release(struct ibup_vmext_status *st);

/**
 * ibup_vmext_set_message() - set an owned message, cut to what the agent shows
 * @msg: the message pointer to replace (the old one is freed)
 * @fmt: printf format
 *
 * Messages longer than IBUP_VMEXT_MESSAGE_MAX bytes are cut at a UTF-8 character
 * boundary and end in "...".
 *
 * Return: 0, or -ENOMEM (the old message is kept).
 */
int ibup_vmext_set_message(char **msg, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/**
 * ibup_vmext_add_substatus() - add a step's verdict
 * @st: the status
 * @name: the step's name (static)
 * @state: its verdict
 * @code: its code
 * @fmt: its message
 *
 * Return: 0, -ENOSPC past IBUP_VMEXT_MAX_STEPS, or -ENOMEM.
 */
int ibup_vmext_add_substatus(struct ibup_vmext_status *st, const char *name,
			     enum ibup_vmext_state state, int code, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/**
 * ibup_vmext_status_format() - the status file's content
 * @env: the handler environment (name, and version as the file's "version")
 * @st: the status
 * @now: the time it is written ("timestampUTC")
 * @ret_text: the JSON array the agent parses, newline-terminated, owned by the caller
 *
 * Pure. [{"version": 1.0, "timestampUTC": ..., "status": {"name", "operation",
 * "status", "code", "configurationAppliedTime", "formattedMessage": {"lang",
 * "message"}, "substatus": [{"name", "status", "code", "formattedMessage"}]}}]
 *
 * Return: 0, or -ENOMEM.
 */
int ibup_vmext_status_format(const struct ibup_vmext_env *env,
			     const struct ibup_vmext_status *st, time_t now,
			     char **ret_text);

/**
 * ibup_vmext_status_write() - write status/<seq>.status atomically
 * @env: the handler environment (its statusFolder)
 * @seq: the sequence number
 * @st: the status
 * @now: the time
 *
 * Through ibup_file_replace() with a context rooted at the status folder, which is
 * created when missing: the agent never sees a partly written file.
 *
 * Return: 0, or a negative errno.
 */
int ibup_vmext_status_write(const struct ibup_vmext_env *env, unsigned seq,
			    const struct ibup_vmext_status *st, time_t now);

/**
 * ibup_vmext_status_read() - the state a status file holds
 * @env: the handler environment
 * @seq: the sequence number
 * @ret: the top-level verdict
 *
 * Return: 0, -ENOENT when there is no status file, -EBADMSG, or a negative errno.
 */
int ibup_vmext_status_read(const struct ibup_vmext_env *env, unsigned seq,
			   enum ibup_vmext_state *ret);
/* The same, and its "code" (0 when absent, as the agent takes it) into @ret_code. */
int ibup_vmext_status_read_code(const struct ibup_vmext_env *env, unsigned seq,
				enum ibup_vmext_state *ret, int *ret_code);

/**
 * ibup_vmext_heartbeat_write() - write the heartbeat file the manifest asked for
 * @env: the handler environment (its heartbeatFile)
 * @ready: the handler is ready ("Ready"), or not ("NotReady")
 * @message: one line
 *
 * [{"version": "1.0", "heartbeat": {"status", "code", "formattedMessage"}}]; the
 * agent takes the file as a sign of life for ten minutes after it was written.
 *
 * Return: 0, -ENOENT when the environment names no heartbeat file, or a negative errno.
 */
int ibup_vmext_heartbeat_write(const struct ibup_vmext_env *env, bool ready,
			       const char *message);

/*
 * mrseq: the last sequence number whose work finished, a decimal number in the
 * handler directory. _read returns -ENOENT when there is none; _remove returns 0
 * whether or not it was there.
 */
int ibup_vmext_mrseq_read(const char *handler_dir, unsigned *ret);
int ibup_vmext_mrseq_write(const char *handler_dir, unsigned seq);
int ibup_vmext_mrseq_remove(const char *handler_dir);

/*
 * enable's background work: `ibup vmext enable --worker`, started as a transient
 * systemd unit of its own or, where systemd is not running, as a detached process (its
 * own session). The record ("worker" in the handler directory, one line:
 * "systemd UNIT SEQ" or "process PID SEQ") lets a later enable join it and disable stop
 * it; it says nothing about whether the worker still runs.
 */
enum ibup_vmext_worker_kind {
	IBUP_VMEXT_WORKER_SYSTEMD,
	IBUP_VMEXT_WORKER_PROCESS,
};
struct ibup_vmext_worker {
	enum ibup_vmext_worker_kind kind;
	char unit[64]; /* systemd: "ibup-vmext-<seq>.service" */
	long pid; /* process: the worker, leader of its own session */
	unsigned seq; /* the sequence number it applies */
};

/**
 * ibup_vmext_worker_parse() - parse the worker record
 * @text: its content
 * @len: its length
 * @ret: filled on success
 *
 * Return: 0, or -EBADMSG.
 */
int ibup_vmext_worker_parse(const char *text, size_t len, struct ibup_vmext_worker *ret);
/* The record's line, newline-terminated, into @buf; -ENAMETOOLONG when it does not fit. */
int ibup_vmext_worker_format(const struct ibup_vmext_worker *w, char *buf, size_t size);
/* In the handler directory: _read returns -ENOENT when there is none, -EBADMSG;
 * _remove returns 0 whether or not it was there. */
int ibup_vmext_worker_read(const char *handler_dir, struct ibup_vmext_worker *ret);
int ibup_vmext_worker_write(const char *handler_dir, const struct ibup_vmext_worker *w);
int ibup_vmext_worker_remove(const char *handler_dir);

struct ibup_check_report;

/**
 * ibup_vmext_check_substatus() - the "check" substatus of a check report
 * @rep: the report of ibup_check_run()
 * @st: the status the substatus is added to
 *
 * Failures, each with its fix, make it "error" (code IBUP_VMEXT_FAILED); no fabric on
 * a node that expects none is "error" with IBUP_VMEXT_NO_IB; warnings alone make it
 * "warning"; otherwise "success". The message names the failures first.
 *
 * Return: 0, or a negative errno.
 */
int ibup_vmext_check_substatus(const struct ibup_check_report *rep,
			       struct ibup_vmext_status *st);

#ifdef __cplusplus
}
#endif

#endif
