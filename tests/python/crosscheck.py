"""Fidelity cross-check: HubSpot's official Python client against hubspot-sim.

Every call below must deserialise into the client's typed models without error; a failure
means the simulator's JSON differs from what HubSpot's own client expects.

Usage: crosscheck.py BASE_URL ACCESS_TOKEN CLIENT_ID CLIENT_SECRET REFRESH_TOKEN CONTACTS COMPANIES
"""

import json
import re
import sys
import urllib.error
import urllib.parse
import urllib.request

from hubspot import HubSpot
from hubspot.crm.associations.v4 import BatchInputPublicFetchAssociationsBatchRequest, PublicFetchAssociationsBatchRequest
from hubspot.crm.contacts import ApiException as ContactsApiException
from hubspot.crm.contacts import (BatchReadInputSimplePublicObjectId, Filter, FilterGroup, PublicObjectSearchRequest,
                                  SimplePublicObjectId, SimplePublicObjectInputForCreate)

CHECKS = []


def check(name):
    def register(function):
        CHECKS.append((name, function))
        return function
    return register


def expect(condition, message):
    if not condition:
        raise AssertionError(message)


@check("contacts: list every page (get_all)")
def contacts_all(client, context):
    contacts = client.crm.contacts.get_all(properties=["email", "firstname", "lastname", "company", "hs_email_optout"])
    expect(len(contacts) == context["contacts"], f"{len(contacts)} contacts, expected {context['contacts']}")
    expect(all(contact.id.isdigit() for contact in contacts), "ids are numeric strings")
    expect(any(int(contact.id) > 2**31 for contact in contacts), "some ids exceed 2^31")
    context["contact_ids"] = [contact.id for contact in contacts]
    context["email"] = contacts[0].properties["email"]


@check("companies: list every page (get_all)")
def companies_all(client, context):
    companies = client.crm.companies.get_all(properties=["name", "domain", "type", "industry", "hubspot_owner_id"])
    expect(len(companies) == context["companies"], f"{len(companies)} companies, expected {context['companies']}")
    context["company_ids"] = [company.id for company in companies]


@check("contacts: one page with associations, get by id")
def contacts_page(client, context):
    page = client.crm.contacts.basic_api.get_page(limit=10, properties=["email"], associations=["companies"])
    expect(len(page.results) == 10 and page.paging.next.after, "a full first page with a next cursor")
    contact = client.crm.contacts.basic_api.get_by_id(context["contact_ids"][0], properties=["email", "jobtitle"])
    expect(contact.properties["email"] == context["email"], "get by id returns the listed contact")


@check("deals: propertiesWithHistory at the 50-record page size")
def deals_history(client, context):
    deals = client.crm.deals.get_all(properties=["dealname", "dealstage", "pipeline", "amount"], properties_with_history=["dealstage"])
    expect(deals and all(deal.properties_with_history["dealstage"] for deal in deals), "every deal has a stage history")


@check("tasks: generic objects API with type id 0-27")
def tasks(client, context):
    page = client.crm.objects.basic_api.get_page("0-27", limit=20, properties=["hs_task_subject", "hs_task_status", "hs_timestamp"])
    expect(page.results and page.results[0].properties["hs_task_subject"], "tasks have subjects")


@check("contacts: search by modified date with sort and paging")
def search(client, context):
    request = PublicObjectSearchRequest(
        filter_groups=[FilterGroup(filters=[Filter(property_name="lastmodifieddate", operator="GTE", value="0")])],
        sorts=["lastmodifieddate"], properties=["email", "lastmodifieddate"], limit=200, after="0")
    page = client.crm.contacts.search_api.do_search(public_object_search_request=request)
    expect(page.total == context["contacts"] and len(page.results) == min(200, context["contacts"]), f"total {page.total}")
    by_email = PublicObjectSearchRequest(filter_groups=[FilterGroup(filters=[Filter(property_name="email", operator="EQ", value=context["email"])])],
                                         properties=["email"], limit=10, after="0", sorts=[])
    found = client.crm.contacts.search_api.do_search(public_object_search_request=by_email)
    expect(found.total == 1 and found.results[0].id == context["contact_ids"][0], "search by email finds the contact")


@check("contacts: batch read, with a missing id (207)")
def batch_read(client, context):
    inputs = [SimplePublicObjectId(id=contact_id) for contact_id in context["contact_ids"][:5]] + [SimplePublicObjectId(id="1")]
    request = BatchReadInputSimplePublicObjectId(inputs=inputs, properties=["email"], properties_with_history=[])
    answer = client.crm.contacts.batch_api.read(batch_read_input_simple_public_object_id=request)
    expect(len(answer.results) == 5 and answer.num_errors == 1, f"{len(answer.results)} results, {answer.num_errors} errors")


@check("owners: active and archived pages, get by id")
def owners(client, context):
    active = client.crm.owners.owners_api.get_page(limit=100)
    archived = client.crm.owners.owners_api.get_page(limit=100, archived=True)
    expect(active.results and archived.results, "both active and archived owners exist")
    expect(all(owner.user_id is None and owner.user_id_including_inactive for owner in archived.results), "archived owners keep only userIdIncludingInactive")
    owner = client.crm.owners.owners_api.get_by_id(int(active.results[0].id))
    expect(owner.email == active.results[0].email, "owner by id")


@check("pipelines and property definitions")
def pipelines_and_properties(client, context):
    pipelines = client.crm.pipelines.pipelines_api.get_all("deals")
    expect(any(stage.metadata["probability"] == "1.0" for stage in pipelines.results[0].stages), "a closed-won stage")
    properties = client.crm.properties.core_api.get_all("companies")
    industry = next(prop for prop in properties.results if prop.name == "industry")
    expect(industry.type == "enumeration" and industry.options[0].value.isupper(), "industry options carry internal values")


@check("associations v4: batch read")
def associations(client, context):
    inputs = [PublicFetchAssociationsBatchRequest(id=company_id) for company_id in context["company_ids"][:20]]
    answer = client.crm.associations.v4.batch_api.get_page("companies", "contacts", BatchInputPublicFetchAssociationsBatchRequest(inputs=inputs))
    expect(answer.results and answer.results[0].to[0].association_types[0].type_id == 280, "company to contact type 280")


@check("oauth: refresh token grant and introspection")
def oauth(client, context):
    tokens = client.oauth.tokens_api.create(grant_type="refresh_token", client_id=context["client_id"],
                                           client_secret=context["client_secret"], refresh_token=context["refresh_token"])
    expect(tokens.access_token and tokens.expires_in > 0, "an access token")
    info = client.oauth.access_tokens_api.get(tokens.access_token)
    expect(info.hub_id and info.user and info.scopes, "introspection names hub, user and scopes")
    fresh = HubSpot(access_token=tokens.access_token, host=context["base"])
    expect(fresh.crm.contacts.basic_api.get_page(limit=1).results, "the OAuth token works")


@check("oauth: authorize pages, code exchange, refresh-token info and revocation")
def oauth_install(client, context):
    base, redirect = context["base"], "http://localhost:9/oauth/callback"
    users = json.load(urllib.request.urlopen(f"{base}/_sim/accounts"))["users"]
    query = urllib.parse.urlencode({"client_id": context["client_id"], "redirect_uri": redirect,
                                    "scope": "oauth crm.objects.contacts.read", "state": "py"})
    page = urllib.request.urlopen(f"{base}/oauth/authorize?{query}").read().decode()
    request = re.search(r'name="request" value="([^"]+)"', page).group(1)
    opener = urllib.request.build_opener(NoRedirect)

    def post(step, fields, cookie=""):
        body = urllib.parse.urlencode({"request": request, **fields}).encode()
        try:
            return opener.open(urllib.request.Request(f"{base}/oauth/authorize/{step}", body, {"Cookie": cookie}))
        except urllib.error.HTTPError as redirect_or_error:
            return redirect_or_error
    signed_in = post("sign-in", {"email": users[1]["email"]})
    cookie = signed_in.headers["Set-Cookie"].split(";")[0]
    portal_id = re.search(r'name="portal_id" value="(\d+)"', signed_in.read().decode()).group(1)
    location = post("consent", {"portal_id": portal_id, "decision": "connect"}, cookie).headers["Location"]
    code = urllib.parse.parse_qs(urllib.parse.urlparse(location).query)["code"][0]
    tokens = client.oauth.tokens_api.create(grant_type="authorization_code", code=code, redirect_uri=redirect,
                                           client_id=context["client_id"], client_secret=context["client_secret"])
    expect(tokens.refresh_token and tokens.access_token, "tokens for the code")
    info = client.oauth.refresh_tokens_api.get(tokens.refresh_token)
    expect(info.user == users[1]["email"] and info.hub_domain and info.client_id, "refresh-token info names the user")
    client.oauth.refresh_tokens_api.archive(tokens.refresh_token)
    expect(client.oauth.access_tokens_api.get(tokens.access_token).user_id == users[1]["user_id"], "access tokens live on")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args):
        return None


@check("contacts: create, then 409 on the same email")
def create_conflict(client, context):
    created = client.crm.contacts.basic_api.create(SimplePublicObjectInputForCreate(properties={"email": "python@crosscheck.example", "firstname": "Py"}))
    expect(created.id.isdigit(), "created")
    try:
        client.crm.contacts.basic_api.create(SimplePublicObjectInputForCreate(properties={"email": "PYTHON@crosscheck.example"}))
    except ContactsApiException as error:
        expect(error.status == 409 and f"Existing ID: {created.id}" in error.body, f"409 naming {created.id}: {error.body}")
    else:
        raise AssertionError("a duplicate email was accepted")


def main(argv):
    base, token, client_id, client_secret, refresh_token, contacts, companies = argv[1:8]
    context = {"base": base, "client_id": client_id, "client_secret": client_secret, "refresh_token": refresh_token,
               "contacts": int(contacts), "companies": int(companies)}
    client = HubSpot(access_token=token, host=base)
    failures = 0
    for name, function in CHECKS:
        try:
            function(client, context)
            print(f"ok    {name}")
        except Exception as error:  # every failure is reported, then the script exits non-zero
            failures += 1
            print(f"FAIL  {name}: {type(error).__name__}: {error}")
    print(f"{len(CHECKS) - failures}/{len(CHECKS)} checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
