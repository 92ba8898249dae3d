// SPDX-License-Identifier: MIT
/*
 * /var/lib/waagent/SharedConfig.xml, the legacy source of the RDMA address: waagent
 * reads the rdmaMacAddress and rdmaIPv4Address attributes of the first <Instance>
 * element (getElementsByTagName("Instance")[0]). Hosts deployed through AzNM leave both
 * out; the KVP pool is the real source there, so absence is not an error.
 */
#include <expat.h>
#include <string.h>

#include "internal.h"
#include "banned.h"

struct parse_state {
	XML_Parser parser;
	char *mac, *ipv4;
	bool found; /* stopped at the first <Instance> */
	bool doctype; /* stopped at a DOCTYPE */
	bool nomem;
};

static void stop(struct parse_state *st)
{
	XML_StopParser(st->parser, XML_FALSE);
}

static void XMLCALL on_start(void *data, const XML_Char *name, const XML_Char **attrs)
{
	struct parse_state *st = data;

	if (st->found || strcmp(name, "Instance") != 0)
		return;
	for (unsigned i = 0; attrs[i] && attrs[i + 1]; i += 2) {
		char **dst = NULL;

		if (strcmp(attrs[i], "rdmaMacAddress") == 0)
			dst = &st->mac;
		else if (strcmp(attrs[i], "rdmaIPv4Address") == 0)
			dst = &st->ipv4;
		if (!dst)
			continue;
		/* expat rejects a repeated attribute, so each is seen once. */
		*dst = strdup(attrs[i + 1]);
		if (!*dst) {
			st->nomem = true;
			stop(st);
			return;
		}
	}
	st->found = true;
	stop(st);
}

/*
 * SharedConfig has no DTD. Refusing one leaves no entity declarations to expand, which
 * keeps the parse linear in the input whatever expat's own amplification limits are.
 */
static void XMLCALL on_doctype(void *data, const XML_Char *name, const XML_Char *sysid,
			       const XML_Char *pubid, int has_internal_subset)
{
	struct parse_state *st = data;

	st->doctype = true;
	stop(st);
}

static void fill_diag(struct ibup_diag *d, XML_Parser parser, const char *msg)
{
	XML_Size line = XML_GetCurrentLineNumber(parser);
	XML_Size col = XML_GetCurrentColumnNumber(parser);

	*d = (struct ibup_diag){
		.line = line > UINT32_MAX ? 0 : (unsigned)line,
		.column = col >= UINT32_MAX ? 0 : (unsigned)col + 1,
	};
	snprintf(d->msg, sizeof(d->msg), "%s", msg ? msg : "malformed XML");
}

int ibup_parse_shared_config(const char *xml, size_t len, char **ret_mac, char **ret_ipv4,
			     struct ibup_diag *reterr_diag)
{
	struct parse_state st = { 0 };
	enum XML_Status status;
	int r = 0;

	if (len > IBUP_CONF_MAX)
		return -EFBIG;
	st.parser = XML_ParserCreate(NULL);
	if (!st.parser)
		return -ENOMEM;
	XML_SetUserData(st.parser, &st);
	XML_SetStartElementHandler(st.parser, on_start);
	XML_SetStartDoctypeDeclHandler(st.parser, on_doctype);
	status = XML_Parse(st.parser, xml, (int)len, XML_TRUE);
	if (st.nomem) {
		r = -ENOMEM;
	} else if (st.doctype) {
		fill_diag(reterr_diag, st.parser, "DOCTYPE is not allowed");
		r = -EBADMSG;
	} else if (status != XML_STATUS_OK && !st.found) {
		fill_diag(reterr_diag, st.parser,
			  XML_ErrorString(XML_GetErrorCode(st.parser)));
		r = -EBADMSG;
	}
	XML_ParserFree(st.parser);
	if (r < 0) {
		free(st.mac);
		free(st.ipv4);
		return r;
	}
	*ret_mac = st.mac;
	*ret_ipv4 = st.ipv4;
	return 0;
}
