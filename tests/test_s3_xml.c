/* SPDX-License-Identifier: MIT */
/*
 * S3 XML replies and request bodies (lib/s3/xml.c) and the mapping of S3
 * replies and libcurl failures to sluice errors (lib/s3/s3_error.c).
 *
 * The reply documents follow the shapes of the Amazon S3 API reference
 * (ListObjectsV2, ListMultipartUploads, ListParts, CreateMultipartUpload,
 * CompleteMultipartUpload, DeleteObjects, ErrorResponses), with and without
 * the S3 namespace.  Hostile input (truncated, mutated, entity bombs,
 * external entities, oversized) must fail cleanly and quickly.
 *
 * Only the macros of helpers.h are used: this binary is linked without
 * tests/helpers.c.
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "helpers.h"
#include "httpreq/httpreq.h"
#include "s3/iso8601.h"
#include "s3/s3_error.h"
#include "s3/xml.h"
#include "sluice.h"

#define S3NS "http://s3.amazonaws.com/doc/2006-03-01/"
#define XMLDECL "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

/* Asserts err is an error of kind whose message contains f1 and f2 (either
 * may be NULL), then frees it. */
static void expect_err(sluice_error *err, sluice_errkind kind, const char *f1, const char *f2) {
  cr_assert(err != NULL, "succeeded, expected %s", sluice_strerror(kind));
  const char *msg = sluice_error_message(err);
  cr_assert(sluice_error_kind(err) == kind, "expected %s, got [%s] %s", sluice_strerror(kind),
            sluice_strerror(sluice_error_kind(err)), msg);
  cr_assert(msg && msg[0], "empty message");
  cr_assert(!f1 || strstr(msg, f1), "message \"%s\" lacks \"%s\"", msg, f1);
  cr_assert(!f2 || strstr(msg, f2), "message \"%s\" lacks \"%s\"", msg, f2);
  sluice_error_free(err);
}

static sluice_error *list(const char *doc, sluice__s3_list_page *page) {
  return sluice__s3_xml_list_objects(doc, strlen(doc), page);
}

static long maxrss_kib(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------ */
/* Documents                                                           */
/* ------------------------------------------------------------------ */

/* ListObjectsV2, delimiter "/": three objects, two common prefixes,
 * truncated.  ROOT_ATTRS is the namespace declaration (or nothing). */
#define LIST3(ROOT_ATTRS)                                                                \
  XMLDECL                                                                                \
  "<ListBucketResult" ROOT_ATTRS                                                         \
  ">\n"                                                                                  \
  "  <Name>example-bucket</Name>\n"                                                      \
  "  <Prefix>photos/</Prefix>\n"                                                         \
  "  <KeyCount>5</KeyCount>\n"                                                           \
  "  <MaxKeys>5</MaxKeys>\n"                                                             \
  "  <Delimiter>/</Delimiter>\n"                                                         \
  "  <IsTruncated>true</IsTruncated>\n"                                                  \
  "  <Contents>\n"                                                                       \
  "    <Key>photos/a.jpg</Key>\n"                                                        \
  "    <LastModified>2009-10-12T17:50:30.000Z</LastModified>\n"                          \
  "    <ETag>\"fba9dede5f27731c9771645a39863328\"</ETag>\n"                              \
  "    <Size>434234</Size>\n"                                                            \
  "    <StorageClass>STANDARD</StorageClass>\n"                                          \
  "  </Contents>\n"                                                                      \
  "  <Contents>\n"                                                                       \
  "    <Key>photos/b.jpg</Key>\n"                                                        \
  "    <LastModified>2024-02-29T23:59:59.999Z</LastModified>\n"                          \
  "    <ETag>&quot;3858f62230ac3c915f300c664312c11f-9&quot;</ETag>\n"                    \
  "    <Size>0</Size>\n"                                                                 \
  "    <Owner><ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID>" \
  "<DisplayName>mtd@amazon.com</DisplayName></Owner>\n"                                  \
  "    <StorageClass>STANDARD</StorageClass>\n"                                          \
  "  </Contents>\n"                                                                      \
  "  <Contents>\n"                                                                       \
  "    <Key>photos/c.bin</Key>\n"                                                        \
  "    <LastModified>1970-01-01T00:00:00Z</LastModified>\n"                              \
  "    <ETag>\"d41d8cd98f00b204e9800998ecf8427e\"</ETag>\n"                              \
  "    <ChecksumAlgorithm>CRC32</ChecksumAlgorithm>\n"                                   \
  "    <Size>18446744073709551615</Size>\n"                                              \
  "  </Contents>\n"                                                                      \
  "  <CommonPrefixes>\n"                                                                 \
  "    <Prefix>photos/2006/</Prefix>\n"                                                  \
  "  </CommonPrefixes>\n"                                                                \
  "  <CommonPrefixes>\n"                                                                 \
  "    <Prefix>photos/2007/</Prefix>\n"                                                  \
  "  </CommonPrefixes>\n"                                                                \
  "  <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM="               \
  "</NextContinuationToken>\n"                                                           \
  "  <StartAfter>photos/</StartAfter>\n"                                                 \
  "</ListBucketResult>"

static const char list3_ns[] = LIST3(" xmlns=\"" S3NS "\"");
static const char list3_plain[] = LIST3("");

/* The same reply with a namespace prefix on every element. */
static const char list_prefixed[] = XMLDECL
    "<s3:ListBucketResult xmlns:s3=\"" S3NS
    "\">"
    "<s3:IsTruncated>false</s3:IsTruncated>"
    "<s3:Contents><s3:Key>k</s3:Key><s3:Size>7</s3:Size><s3:ETag>\"e\"</s3:ETag></s3:Contents>"
    "<s3:CommonPrefixes><s3:Prefix>p/</s3:Prefix></s3:CommonPrefixes>"
    "</s3:ListBucketResult>";

static const char list_empty[] =
    XMLDECL "<ListBucketResult xmlns=\"" S3NS
            "\">"
            "<Name>example-bucket</Name><Prefix>nothing/</Prefix><KeyCount>0</KeyCount>"
            "<MaxKeys>1000</MaxKeys><Delimiter>/</Delimiter><IsTruncated>false</IsTruncated>"
            "</ListBucketResult>";

static const char uploads_doc[] = XMLDECL
    "<ListMultipartUploadsResult xmlns=\"" S3NS
    "\">\n"
    "  <Bucket>bucket</Bucket>\n"
    "  <KeyMarker></KeyMarker>\n"
    "  <UploadIdMarker></UploadIdMarker>\n"
    "  <NextKeyMarker>my-movie.m2ts</NextKeyMarker>\n"
    "  <NextUploadIdMarker>YW55IGlkZWEgd2h5IGVsdmluZydzIHVwbG9hZCBmYWlsZWQ</NextUploadIdMarker>\n"
    "  <MaxUploads>3</MaxUploads>\n"
    "  <IsTruncated>true</IsTruncated>\n"
    "  <Upload>\n"
    "    <Key>my-divisor</Key>\n"
    "    <UploadId>XMgbGlrZSBlbHZpbmcncyBub3QgaGF2aW5nIG11Y2ggbHVjaw</UploadId>\n"
    "    <Initiator>"
    "<ID>arn:aws:iam::111122223333:user/user1-11111a31-17b5-4fb7-9df5-b111111f13de</ID>"
    "<DisplayName>user1-11111a31-17b5-4fb7-9df5-b111111f13de</DisplayName></Initiator>\n"
    "    <Owner><ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID>"
    "<DisplayName>OwnerDisplayName</DisplayName></Owner>\n"
    "    <StorageClass>STANDARD</StorageClass>\n"
    "    <Initiated>2010-11-10T20:48:33.000Z</Initiated>\n"
    "  </Upload>\n"
    "  <Upload>\n"
    "    <Key>my-movie.m2ts</Key>\n"
    "    <UploadId>VXBsb2FkIElEIGZvciBlbHZpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA</UploadId>\n"
    "    <StorageClass>STANDARD</StorageClass>\n"
    "    <Initiated>2010-11-10T20:48:33.000Z</Initiated>\n"
    "  </Upload>\n"
    "</ListMultipartUploadsResult>";

static const char uploads_empty_plain[] =
    "<ListMultipartUploadsResult><Bucket>b</Bucket><KeyMarker/><UploadIdMarker/>"
    "<NextKeyMarker/><NextUploadIdMarker/><MaxUploads>1000</MaxUploads>"
    "<IsTruncated>false</IsTruncated></ListMultipartUploadsResult>";

static const char parts_doc[] =
    XMLDECL "<ListPartsResult xmlns=\"" S3NS
            "\">\n"
            "  <Bucket>example-bucket</Bucket>\n"
            "  <Key>example-object</Key>\n"
            "  <UploadId>XXBsb2FkIElEIGZvciBlbHZpbmcncyVcdS1tb3ZpZS5tMnRzEEEwbG9hZA</UploadId>\n"
            "  <StorageClass>STANDARD</StorageClass>\n"
            "  <PartNumberMarker>1</PartNumberMarker>\n"
            "  <NextPartNumberMarker>3</NextPartNumberMarker>\n"
            "  <MaxParts>2</MaxParts>\n"
            "  <IsTruncated>true</IsTruncated>\n"
            "  <Part>\n"
            "    <PartNumber>2</PartNumber>\n"
            "    <LastModified>2010-11-10T20:48:34.000Z</LastModified>\n"
            "    <ETag>\"7778aef83f66abc1fa1e8477f296d394\"</ETag>\n"
            "    <Size>10485760</Size>\n"
            "  </Part>\n"
            "  <Part>\n"
            "    <PartNumber>3</PartNumber>\n"
            "    <LastModified>2010-11-10T20:48:33.000Z</LastModified>\n"
            "    <ETag>\"aaaa18db4cc2f85cedef654fccc4a4x8\"</ETag>\n"
            "    <Size>10485760</Size>\n"
            "  </Part>\n"
            "</ListPartsResult>";

static const char initiate_doc[] =
    XMLDECL "<InitiateMultipartUploadResult xmlns=\"" S3NS
            "\">\n"
            "  <Bucket>example-bucket</Bucket>\n"
            "  <Key>example-object</Key>\n"
            "  <UploadId>VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA</UploadId>\n"
            "</InitiateMultipartUploadResult>";

static const char err_no_such_key[] = XMLDECL
    "<Error>\n"
    "  <Code>NoSuchKey</Code>\n"
    "  <Message>The resource you requested does not exist</Message>\n"
    "  <Resource>/mybucket/myfoto.jpg</Resource>\n"
    "  <RequestId>4442587FB7D0A2F9</RequestId>\n"
    "</Error>";

static const char err_slow_down[] = XMLDECL
    "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message>"
    "<RequestId>K2H6N7ZGQT6WHCEG</RequestId>"
    "<HostId>WWoZlnK4pTjKCYn6eNV7GgOurabfqLkjbSyqTvDMGBaI9uwzyNhSaDhOCPs8paFGye7S6b/AB3A=</HostId>"
    "</Error>";

static const char err_entity_too_small[] = XMLDECL
    "<Error><Code>EntityTooSmall</Code>"
    "<Message>Your proposed upload is smaller than the minimum allowed object size.</Message>"
    "<ProposedSize>5</ProposedSize><MinSizeAllowed>5242880</MinSizeAllowed>"
    "<PartNumber>1</PartNumber><ETag>d41d8cd98f00b204e9800998ecf8427e</ETag>"
    "<RequestId>656c76696e6727732072657175657374</RequestId>"
    "<HostId>Uuag1LuByRx9e6j5Onimru9pO4ZVKnJ2Qz7/C1NPcfTWAtRPfTaOFg==</HostId></Error>";

static const char complete_ok[] =
    XMLDECL "<CompleteMultipartUploadResult xmlns=\"" S3NS
            "\">\n"
            "  <Location>https://example-bucket.s3.us-east-1.amazonaws.com/big/object</Location>\n"
            "  <Bucket>example-bucket</Bucket>\n"
            "  <Key>big/object</Key>\n"
            "  <ETag>\"3858f62230ac3c915f300c664312c11f-9\"</ETag>\n"
            "</CompleteMultipartUploadResult>";

/* The documented 200-with-error reply, as S3 sends it after keep-alive
 * spaces (note the blank line after the declaration, as documented). */
static const char complete_internal_error[] =
    "      \n   " XMLDECL
    "\n"
    "<Error>\n"
    "<Code>InternalError</Code>\n"
    "<Message>We encountered an internal error. Please try again.</Message>\n"
    "<RequestId>656c76696e6727732072657175657374</RequestId>\n"
    "<HostId>Uuag1LuByRx9e6j5Onimru9pO4ZVKnJ2Qz7/C1NPcfTWAtRPfTaOFg==</HostId>\n"
    "</Error>";

#define LOLS(e) "&" e ";&" e ";&" e ";&" e ";&" e ";&" e ";&" e ";&" e ";&" e ";&" e ";"
#define BOMB_DTD(root) \
  "<?xml version=\"1.0\"?>\n<!DOCTYPE " root " [\n"                                        \
  "<!ENTITY lol \"lol\">\n"                                                                \
  "<!ENTITY lol1 \"" LOLS("lol") "\">\n<!ENTITY lol2 \"" LOLS("lol1") "\">\n"              \
  "<!ENTITY lol3 \"" LOLS("lol2") "\">\n<!ENTITY lol4 \"" LOLS("lol3") "\">\n"             \
  "<!ENTITY lol5 \"" LOLS("lol4") "\">\n<!ENTITY lol6 \"" LOLS("lol5") "\">\n"             \
  "<!ENTITY lol7 \"" LOLS("lol6") "\">\n<!ENTITY lol8 \"" LOLS("lol7") "\">\n"             \
  "<!ENTITY lol9 \"" LOLS("lol8") "\">\n]>\n"

static const char bomb_error[] = BOMB_DTD("Error") "<Error><Code>&lol9;</Code></Error>";
static const char bomb_list[] =
    BOMB_DTD("ListBucketResult") "<ListBucketResult><IsTruncated>false</IsTruncated>"
                                 "<Contents><Key>&lol9;</Key><Size>1</Size></Contents>"
                                 "</ListBucketResult>";

/* ------------------------------------------------------------------ */
/* ListObjectsV2                                                       */
/* ------------------------------------------------------------------ */

static void check_list3(const char *doc) {
  sluice__s3_list_page p;
  TH_OK(list(doc, &p));
  cr_assert_eq(p.nobjects, 3);
  cr_assert_str_eq(p.objects[0].key, "photos/a.jpg");
  cr_assert_eq(p.objects[0].size, 434234);
  cr_assert_str_eq(p.objects[0].etag, "\"fba9dede5f27731c9771645a39863328\"");
  cr_assert_eq(p.objects[0].mtime, 1255369830);
  cr_assert_str_eq(p.objects[1].key, "photos/b.jpg");
  cr_assert_eq(p.objects[1].size, 0);
  cr_assert_str_eq(p.objects[1].etag, "\"3858f62230ac3c915f300c664312c11f-9\"");
  cr_assert_eq(p.objects[1].mtime, 1709251199);
  cr_assert_str_eq(p.objects[2].key, "photos/c.bin");
  cr_assert_eq(p.objects[2].size, UINT64_MAX);
  cr_assert_eq(p.objects[2].mtime, 0);
  cr_assert_eq(p.nprefixes, 2);
  cr_assert_str_eq(p.prefixes[0], "photos/2006/");
  cr_assert_str_eq(p.prefixes[1], "photos/2007/");
  cr_assert_eq(p.truncated, 1);
  cr_assert_str_eq(p.next_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
  cr_assert_eq(p.key_count, 5);
  sluice__s3_list_page_clear(&p);
  cr_assert_null(p.objects);
  cr_assert_null(p.prefixes);
  cr_assert_null(p.next_token);
  cr_assert_eq(p.nobjects, 0);
}

Test(s3_xml, list_three_objects_two_prefixes_truncated, .timeout = 10) { check_list3(list3_ns); }

Test(s3_xml, list_without_namespace, .timeout = 10) { check_list3(list3_plain); }

Test(s3_xml, list_with_prefixed_namespace, .timeout = 10) {
  sluice__s3_list_page p;
  TH_OK(list(list_prefixed, &p));
  cr_assert_eq(p.nobjects, 1);
  cr_assert_str_eq(p.objects[0].key, "k");
  cr_assert_eq(p.objects[0].size, 7);
  cr_assert_eq(p.objects[0].mtime, -1, "no <LastModified> means -1");
  cr_assert_eq(p.nprefixes, 1);
  cr_assert_str_eq(p.prefixes[0], "p/");
  cr_assert_eq(p.truncated, 0);
  cr_assert_null(p.next_token);
  cr_assert_eq(p.key_count, -1);
  sluice__s3_list_page_clear(&p);
}

Test(s3_xml, list_empty, .timeout = 10) {
  sluice__s3_list_page p;
  TH_OK(list(list_empty, &p));
  cr_assert_eq(p.nobjects, 0);
  cr_assert_eq(p.nprefixes, 0);
  cr_assert_null(p.objects);
  cr_assert_null(p.prefixes);
  cr_assert_eq(p.truncated, 0);
  cr_assert_null(p.next_token);
  cr_assert_eq(p.key_count, 0);
  sluice__s3_list_page_clear(&p);
  sluice__s3_list_page_clear(&p); /* twice: still safe */
  sluice__s3_list_page_clear(NULL);
}

Test(s3_xml, list_keys_with_entities_unicode_and_cdata, .timeout = 10) {
  static const char doc[] =
      "<ListBucketResult xmlns=\"" S3NS
      "\"><IsTruncated>false</IsTruncated>"
      "<Contents><Key>a &amp; b/caf&#xE9;/\xE6\x97\xA5\xE6\x9C\xAC \xE2\x98\x83.txt</Key>"
      "<Size>3</Size></Contents>"
      "<Contents><Key>&lt;tag&gt; &quot;q&quot; &apos;s&apos; &#x1F600;</Key>"
      "<Size>4</Size></Contents>"
      "<Contents><Key><![CDATA[cdata & <raw>]]></Key><Size>5</Size></Contents>"
      "<Contents><Key>  spaces kept  </Key><Size>6</Size></Contents>"
      "<CommonPrefixes><Prefix>R&amp;D/</Prefix></CommonPrefixes>"
      "</ListBucketResult>";
  sluice__s3_list_page p;
  TH_OK(list(doc, &p));
  cr_assert_eq(p.nobjects, 4);
  cr_assert_str_eq(p.objects[0].key, "a & b/caf\xC3\xA9/\xE6\x97\xA5\xE6\x9C\xAC \xE2\x98\x83.txt");
  cr_assert_str_eq(p.objects[1].key, "<tag> \"q\" 's' \xF0\x9F\x98\x80");
  cr_assert_str_eq(p.objects[2].key, "cdata & <raw>");
  cr_assert_str_eq(p.objects[3].key, "  spaces kept  ");
  cr_assert_null(p.objects[0].etag, "no <ETag> means NULL");
  cr_assert_eq(p.nprefixes, 1);
  cr_assert_str_eq(p.prefixes[0], "R&D/");
  sluice__s3_list_page_clear(&p);
}

Test(s3_xml, list_url_encoding_type_decodes_keys, .timeout = 10) {
  static const char doc[] =
      "<ListBucketResult><EncodingType>url</EncodingType><IsTruncated>false</IsTruncated>"
      "<Contents><Key>dir%2Fa+b%E2%82%AC%01.txt</Key><Size>1</Size></Contents>"
      "<CommonPrefixes><Prefix>dir%2Fsub%2F</Prefix></CommonPrefixes></ListBucketResult>";
  sluice__s3_list_page p;
  TH_OK(list(doc, &p));
  cr_assert_str_eq(p.objects[0].key, "dir/a b\xE2\x82\xAC\x01.txt");
  cr_assert_str_eq(p.prefixes[0], "dir/sub/");
  sluice__s3_list_page_clear(&p);

  static const char bad_escape[] =
      "<ListBucketResult><EncodingType>url</EncodingType><IsTruncated>false</IsTruncated>"
      "<Contents><Key>a%zz</Key><Size>1</Size></Contents></ListBucketResult>";
  expect_err(list(bad_escape, &p), SLUICE_ERR_UNEXPECTED, "ListObjectsV2", "URL encoding");
  cr_assert_null(p.objects, "page zeroed on error");
  static const char nul_byte[] =
      "<ListBucketResult><EncodingType>url</EncodingType><IsTruncated>false</IsTruncated>"
      "<Contents><Key>a%00b</Key><Size>1</Size></Contents></ListBucketResult>";
  expect_err(list(nul_byte, &p), SLUICE_ERR_UNEXPECTED, "URL encoding", NULL);
  static const char odd_type[] =
      "<ListBucketResult><EncodingType>base64</EncodingType><IsTruncated>false</IsTruncated>"
      "</ListBucketResult>";
  expect_err(list(odd_type, &p), SLUICE_ERR_UNEXPECTED, "EncodingType", "base64");
}

Test(s3_xml, list_missing_required_elements, .timeout = 10) {
  sluice__s3_list_page p;
  expect_err(list("<ListBucketResult><KeyCount>0</KeyCount></ListBucketResult>", &p),
             SLUICE_ERR_UNEXPECTED, "s3: ListObjectsV2 reply: no <IsTruncated>", NULL);
  expect_err(list("<ListBucketResult><IsTruncated>maybe</IsTruncated></ListBucketResult>", &p),
             SLUICE_ERR_UNEXPECTED, "IsTruncated", "maybe");
  expect_err(list("<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>", &p),
             SLUICE_ERR_UNEXPECTED, "NextContinuationToken", NULL);
  expect_err(list("<ListBucketResult><IsTruncated>true</IsTruncated>"
                  "<NextContinuationToken></NextContinuationToken></ListBucketResult>",
                  &p),
             SLUICE_ERR_UNEXPECTED, "NextContinuationToken", NULL);
  expect_err(list("<ListBucketResult><IsTruncated>false</IsTruncated>"
                  "<Contents><Size>1</Size></Contents></ListBucketResult>",
                  &p),
             SLUICE_ERR_UNEXPECTED, "no <Key> in <Contents>", NULL);
  expect_err(list("<ListBucketResult><IsTruncated>false</IsTruncated>"
                  "<Contents><Key/><Size>1</Size></Contents></ListBucketResult>",
                  &p),
             SLUICE_ERR_UNEXPECTED, "empty <Key>", NULL);
  expect_err(list("<ListBucketResult><IsTruncated>false</IsTruncated>"
                  "<Contents><Key>k1</Key></Contents></ListBucketResult>",
                  &p),
             SLUICE_ERR_UNEXPECTED, "no <Size>", "k1");
  expect_err(list("<ListBucketResult><IsTruncated>false</IsTruncated>"
                  "<CommonPrefixes></CommonPrefixes></ListBucketResult>",
                  &p),
             SLUICE_ERR_UNEXPECTED, "no <Prefix>", NULL);
  cr_assert_null(p.objects);
  cr_assert_eq(p.nobjects, 0);
}

Test(s3_xml, list_malformed_numbers_and_times, .timeout = 10) {
  static const char *const sizes[] = {"-1", "12x", "", "18446744073709551616", "1e3", "0x10", " "};
  sluice__s3_list_page p;
  for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
    char doc[512];
    snprintf(doc, sizeof(doc),
             "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>first</Key>"
             "<Size>1</Size></Contents><Contents><Key>k</Key><Size>%s</Size></Contents>"
             "</ListBucketResult>",
             sizes[i]);
    expect_err(list(doc, &p), SLUICE_ERR_UNEXPECTED, "<Size>", "'k'");
    cr_assert_null(p.objects, "a half-filled page is freed and zeroed");
  }
  expect_err(list("<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>k</Key>"
                  "<Size>1</Size><LastModified>yesterday</LastModified></Contents>"
                  "</ListBucketResult>",
                  &p),
             SLUICE_ERR_UNEXPECTED, "LastModified", "yesterday");
  expect_err(list("<ListBucketResult><IsTruncated>false</IsTruncated><KeyCount>many</KeyCount>"
                  "</ListBucketResult>",
                  &p),
             SLUICE_ERR_UNEXPECTED, "KeyCount", NULL);
  /* Whitespace around numbers and booleans is tolerated. */
  TH_OK(
      list("<ListBucketResult><IsTruncated> false\n</IsTruncated><Contents><Key>k</Key>"
           "<Size>\n 42 </Size></Contents></ListBucketResult>",
           &p));
  cr_assert_eq(p.objects[0].size, 42);
  sluice__s3_list_page_clear(&p);
}

Test(s3_xml, list_wrong_root_and_null_arguments, .timeout = 10) {
  sluice__s3_list_page p;
  expect_err(list(uploads_doc, &p), SLUICE_ERR_UNEXPECTED, "expected <ListBucketResult>",
             "ListMultipartUploadsResult");
  expect_err(list(err_no_such_key, &p), SLUICE_ERR_UNEXPECTED, "got <Error>", NULL);
  expect_err(sluice__s3_xml_list_objects(NULL, 0, &p), SLUICE_ERR_UNEXPECTED, "empty body", NULL);
  expect_err(sluice__s3_xml_list_objects("", 0, &p), SLUICE_ERR_UNEXPECTED, "empty body", NULL);
  expect_err(sluice__s3_xml_list_objects(" \r\n\t", 4, &p), SLUICE_ERR_UNEXPECTED, "empty", NULL);
  expect_err(sluice__s3_xml_list_objects(NULL, 5, &p), SLUICE_ERR_INVALID_ARGUMENT, NULL, NULL);
  expect_err(sluice__s3_xml_list_objects(list3_ns, strlen(list3_ns), NULL),
             SLUICE_ERR_INVALID_ARGUMENT, NULL, NULL);
}

Test(s3_xml, list_body_length_is_respected, .timeout = 10) {
  /* The reply is not NUL-terminated where len says it ends. */
  size_t n = strlen(list_empty);
  char *copy = malloc(n + 16);
  memcpy(copy, list_empty, n);
  memcpy(copy + n, "<junk>garbage", 13);
  sluice__s3_list_page p;
  TH_OK(sluice__s3_xml_list_objects(copy, n, &p));
  sluice__s3_list_page_clear(&p);
  free(copy);
}

/* ------------------------------------------------------------------ */
/* Malformed and hostile input                                         */
/* ------------------------------------------------------------------ */

Test(s3_xml, every_truncation_of_a_reply_fails_cleanly, .timeout = 60) {
  const char *docs[] = {list3_ns, uploads_doc, parts_doc, initiate_doc};
  for (size_t d = 0; d < 4; d++) {
    size_t n = strlen(docs[d]);
    for (size_t i = 0; i < n; i++) {
      /* An exact-size copy, so a read past len shows up under ASan. */
      char *b = malloc(i ? i : 1);
      memcpy(b, docs[d], i);
      sluice__s3_list_page lp;
      sluice__s3_uploads_page up;
      sluice__s3_parts_page pp;
      char *id = NULL;
      sluice_error *e;
      switch (d) {
      case 0: e = sluice__s3_xml_list_objects(b, i, &lp); break;
      case 1: e = sluice__s3_xml_list_uploads(b, i, &up); break;
      case 2: e = sluice__s3_xml_list_parts(b, i, &pp); break;
      default: e = sluice__s3_xml_upload_id(b, i, &id); break;
      }
      cr_assert(e != NULL, "doc %zu cut at %zu bytes parsed", d, i);
      cr_assert_eq(sluice_error_kind(e), SLUICE_ERR_UNEXPECTED, "doc %zu cut at %zu: %s", d, i,
                   sluice_error_message(e));
      cr_assert_null(id);
      sluice_error_free(e);
      char *code = NULL, *msg = NULL;
      cr_assert_eq(sluice__s3_xml_error(b, i, &code, &msg), -1);
      cr_assert_null(code);
      free(b);
    }
  }
}

Test(s3_xml, malformed_message_names_operation_and_line, .timeout = 10) {
  sluice__s3_list_page p;
  expect_err(list("<ListBucketResult>\n<IsTruncated>false</IsTruncated>\n<Contents>\n"
                  "</ListBucketResult>",
                  &p),
             SLUICE_ERR_UNEXPECTED, "s3: ListObjectsV2 reply: malformed XML (line ", NULL);
  expect_err(list("<html><body>502 Bad Gateway</body>", &p), SLUICE_ERR_UNEXPECTED, "malformed",
             NULL);
  expect_err(list("not xml at all", &p), SLUICE_ERR_UNEXPECTED, "malformed", NULL);
  /* An undeclared entity is not well-formed. */
  expect_err(list("<ListBucketResult><IsTruncated>&bogus;</IsTruncated></ListBucketResult>", &p),
             SLUICE_ERR_UNEXPECTED, "malformed", NULL);
  /* Two roots. */
  expect_err(list("<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult><x/>", &p),
             SLUICE_ERR_UNEXPECTED, "malformed", NULL);
}

Test(s3_xml, mutated_replies_never_crash, .timeout = 120) {
  /* Deterministic byte mutations of every reply; each either parses or
   * fails with UNEXPECTED, and nothing leaks (valgrind/ASan runs). */
  const char *docs[] = {list3_ns, uploads_doc, parts_doc, initiate_doc, complete_ok, err_slow_down};
  uint64_t x = 0x9E3779B97F4A7C15u;
  static const char alphabet[] = "<>/&;\"'=!?[]-x \n\0\xff\xc3";
  for (int round = 0; round < 3000; round++) {
    const char *src = docs[round % 6];
    size_t n = strlen(src);
    char *b = malloc(n);
    memcpy(b, src, n);
    for (int k = 0; k < 1 + round % 4; k++) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      b[x % n] = alphabet[(x >> 32) % (sizeof(alphabet) - 1)];
    }
    sluice__s3_list_page lp;
    sluice__s3_uploads_page up;
    sluice__s3_parts_page pp;
    char *id = NULL, *code = NULL, *msg = NULL;
    sluice_error *e[7] = {
        sluice__s3_xml_list_objects(b, n, &lp),
        sluice__s3_xml_list_uploads(b, n, &up),
        sluice__s3_xml_list_parts(b, n, &pp),
        sluice__s3_xml_upload_id(b, n, &id),
        sluice__s3_xml_complete_result(b, n, NULL, "k"),
        sluice__s3_xml_delete_result(b, n, NULL),
        NULL,
    };
    if (sluice__s3_xml_error(b, n, &code, &msg) == 0) {
      free(code);
      free(msg);
    }
    for (int i = 0; i < 6; i++) {
      if (e[i] && i < 4)
        cr_assert_eq(sluice_error_kind(e[i]), SLUICE_ERR_UNEXPECTED, "%s",
                     sluice_error_message(e[i]));
      sluice_error_free(e[i]);
    }
    sluice__s3_list_page_clear(&lp);
    sluice__s3_uploads_page_clear(&up);
    sluice__s3_parts_page_clear(&pp);
    free(id);
    free(b);
  }
}

Test(s3_xml, billion_laughs_is_refused_quickly, .timeout = 10) {
  long rss0 = maxrss_kib();
  double t0 = now_s();
  char *code = NULL, *msg = NULL;
  cr_assert_eq(sluice__s3_xml_error(bomb_error, strlen(bomb_error), &code, &msg), -1);
  cr_assert_null(code);
  sluice__s3_list_page p;
  expect_err(list(bomb_list, &p), SLUICE_ERR_UNEXPECTED, "ListObjectsV2",
             "document type declarations are refused");
  expect_err(sluice__s3_xml_complete_result(bomb_error, strlen(bomb_error), NULL, "big"),
             SLUICE_ERR_UNEXPECTED, "document type", NULL);
  double dt = now_s() - t0;
  long grown = maxrss_kib() - rss0;
  cr_assert_lt(dt, th_seconds(2.0), "took %.3f s", dt);
  cr_assert_lt(grown, 64 * 1024, "peak RSS grew by %ld KiB", grown);
}

Test(s3_xml, external_entities_and_dtds_are_refused, .timeout = 10) {
  static const char xxe[] =
      "<?xml version=\"1.0\"?>\n"
      "<!DOCTYPE Error [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n"
      "<Error><Code>&xxe;</Code><Message>m</Message></Error>";
  static const char remote_dtd[] =
      "<?xml version=\"1.0\"?>\n"
      "<!DOCTYPE Error SYSTEM \"http://127.0.0.1:9/evil.dtd\">\n"
      "<Error><Code>AccessDenied</Code></Error>";
  static const char param_entity[] =
      "<!DOCTYPE Error [<!ENTITY % p SYSTEM \"file:///etc/passwd\"> %p;]>"
      "<Error><Code>x</Code></Error>";
  const char *docs[] = {xxe, remote_dtd, param_entity};
  for (int i = 0; i < 3; i++) {
    char *code = NULL, *msg = NULL;
    cr_assert_eq(sluice__s3_xml_error(docs[i], strlen(docs[i]), &code, &msg), -1, "doc %d", i);
    cr_assert_null(code);
    cr_assert_null(msg);
    expect_err(sluice__s3_xml_delete_result(docs[i], strlen(docs[i]), NULL), SLUICE_ERR_UNEXPECTED,
               "DeleteObjects", "document type");
  }
}

Test(s3_xml, oversized_body_is_refused_unread, .timeout = 30) {
  size_t n = SLUICE__S3_XML_MAX_BODY + 1;
  char *b = calloc(1, n); /* untouched pages: cheap */
  cr_assert_not_null(b);
  sluice__s3_list_page p;
  expect_err(sluice__s3_xml_list_objects(b, n, &p), SLUICE_ERR_UNEXPECTED, "ListObjectsV2",
             "over the limit");
  cr_assert_eq(sluice__s3_xml_error(b, n, NULL, NULL), -1);
  free(b);
}

/* ------------------------------------------------------------------ */
/* Multipart uploads                                                   */
/* ------------------------------------------------------------------ */

Test(s3_xml, initiate_multipart_upload, .timeout = 10) {
  char *id = (char *)"untouched";
  TH_OK(sluice__s3_xml_upload_id(initiate_doc, strlen(initiate_doc), &id));
  cr_assert_str_eq(id, "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA");
  free(id);
  static const char plain[] =
      "<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key>"
      "<UploadId>abc.def-1</UploadId></InitiateMultipartUploadResult>";
  TH_OK(sluice__s3_xml_upload_id(plain, strlen(plain), &id));
  cr_assert_str_eq(id, "abc.def-1");
  free(id);

  static const char missing[] =
      "<InitiateMultipartUploadResult><Bucket>b</Bucket>"
      "</InitiateMultipartUploadResult>";
  expect_err(sluice__s3_xml_upload_id(missing, strlen(missing), &id), SLUICE_ERR_UNEXPECTED,
             "s3: CreateMultipartUpload reply: no <UploadId>", NULL);
  cr_assert_null(id);
  static const char empty[] =
      "<InitiateMultipartUploadResult><UploadId/>"
      "</InitiateMultipartUploadResult>";
  expect_err(sluice__s3_xml_upload_id(empty, strlen(empty), &id), SLUICE_ERR_UNEXPECTED,
             "empty <UploadId>", NULL);
  expect_err(sluice__s3_xml_upload_id(err_slow_down, strlen(err_slow_down), &id),
             SLUICE_ERR_UNEXPECTED, "InitiateMultipartUploadResult", NULL);
  expect_err(sluice__s3_xml_upload_id(initiate_doc, strlen(initiate_doc), NULL),
             SLUICE_ERR_INVALID_ARGUMENT, NULL, NULL);
}

Test(s3_xml, list_multipart_uploads, .timeout = 10) {
  sluice__s3_uploads_page p;
  TH_OK(sluice__s3_xml_list_uploads(uploads_doc, strlen(uploads_doc), &p));
  cr_assert_eq(p.n, 2);
  cr_assert_str_eq(p.uploads[0].key, "my-divisor");
  cr_assert_str_eq(p.uploads[0].upload_id, "XMgbGlrZSBlbHZpbmcncyBub3QgaGF2aW5nIG11Y2ggbHVjaw");
  cr_assert_str_eq(p.uploads[1].key, "my-movie.m2ts");
  cr_assert_str_eq(p.uploads[1].upload_id,
                   "VXBsb2FkIElEIGZvciBlbHZpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA");
  cr_assert_eq(p.truncated, 1);
  cr_assert_str_eq(p.next_key_marker, "my-movie.m2ts");
  cr_assert_str_eq(p.next_upload_id_marker, "YW55IGlkZWEgd2h5IGVsdmluZydzIHVwbG9hZCBmYWlsZWQ");
  sluice__s3_uploads_page_clear(&p);
  cr_assert_null(p.uploads);

  TH_OK(sluice__s3_xml_list_uploads(uploads_empty_plain, strlen(uploads_empty_plain), &p));
  cr_assert_eq(p.n, 0);
  cr_assert_eq(p.truncated, 0);
  sluice__s3_uploads_page_clear(&p);
  sluice__s3_uploads_page_clear(NULL);

  static const char no_marker[] =
      "<ListMultipartUploadsResult><IsTruncated>true</IsTruncated>"
      "<Upload><Key>k</Key><UploadId>u</UploadId></Upload>"
      "</ListMultipartUploadsResult>";
  expect_err(sluice__s3_xml_list_uploads(no_marker, strlen(no_marker), &p), SLUICE_ERR_UNEXPECTED,
             "ListMultipartUploads", "NextKeyMarker");
  static const char no_id[] =
      "<ListMultipartUploadsResult><IsTruncated>false</IsTruncated>"
      "<Upload><Key>k</Key></Upload></ListMultipartUploadsResult>";
  expect_err(sluice__s3_xml_list_uploads(no_id, strlen(no_id), &p), SLUICE_ERR_UNEXPECTED,
             "no <UploadId> in <Upload>", NULL);
  cr_assert_null(p.uploads);
  static const char encoded[] =
      "<ListMultipartUploadsResult><EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>"
      "<NextKeyMarker>a%20b</NextKeyMarker>"
      "<Upload><Key>a%20b</Key><UploadId>u</UploadId></Upload></ListMultipartUploadsResult>";
  TH_OK(sluice__s3_xml_list_uploads(encoded, strlen(encoded), &p));
  cr_assert_str_eq(p.uploads[0].key, "a b");
  cr_assert_str_eq(p.next_key_marker, "a b");
  cr_assert_null(p.next_upload_id_marker);
  sluice__s3_uploads_page_clear(&p);
}

Test(s3_xml, list_parts, .timeout = 10) {
  sluice__s3_parts_page p;
  TH_OK(sluice__s3_xml_list_parts(parts_doc, strlen(parts_doc), &p));
  cr_assert_eq(p.n, 2);
  cr_assert_eq(p.parts[0].number, 2);
  cr_assert_str_eq(p.parts[0].etag, "\"7778aef83f66abc1fa1e8477f296d394\"");
  cr_assert_eq(p.parts[0].size, 10485760);
  cr_assert_eq(p.parts[1].number, 3);
  cr_assert_eq(p.truncated, 1);
  cr_assert_eq(p.next_part_number_marker, 3);
  sluice__s3_parts_page_clear(&p);
  static const char bad_number[] =
      "<ListPartsResult><IsTruncated>false</IsTruncated>"
      "<Part><PartNumber>10001</PartNumber><Size>1</Size></Part>"
      "</ListPartsResult>";
  expect_err(sluice__s3_xml_list_parts(bad_number, strlen(bad_number), &p), SLUICE_ERR_UNEXPECTED,
             "ListParts", "PartNumber");
  static const char zero[] =
      "<ListPartsResult><IsTruncated>false</IsTruncated>"
      "<Part><PartNumber>0</PartNumber><Size>1</Size></Part>"
      "</ListPartsResult>";
  expect_err(sluice__s3_xml_list_parts(zero, strlen(zero), &p), SLUICE_ERR_UNEXPECTED, "PartNumber",
             NULL);
  static const char no_marker[] =
      "<ListPartsResult><IsTruncated>true</IsTruncated>"
      "</ListPartsResult>";
  expect_err(sluice__s3_xml_list_parts(no_marker, strlen(no_marker), &p), SLUICE_ERR_UNEXPECTED,
             "NextPartNumberMarker", NULL);
  sluice__s3_parts_page_clear(NULL);
}

/* The elements under root, for checking built bodies with libxml2 itself. */
static xmlDoc *read_back(const char *body, size_t len, const char *root_name, xmlNode **root) {
  xmlDoc *doc = xmlReadMemory(body, (int)len, NULL, NULL, XML_PARSE_NONET);
  cr_assert_not_null(doc, "built body is not well-formed XML:\n%s", body);
  *root = xmlDocGetRootElement(doc);
  cr_assert_not_null(*root);
  cr_assert_str_eq((const char *)(*root)->name, root_name);
  cr_assert_not_null((*root)->ns, "no namespace on <%s>", root_name);
  cr_assert_str_eq((const char *)(*root)->ns->href, S3NS);
  return doc;
}

static xmlNode *next_elem(xmlNode *n) {
  while (n && n->type != XML_ELEMENT_NODE) n = n->next;
  return n;
}

/* Text of the only child element of n, which must be called name. */
static char *only_child_text(xmlNode *n, const char *name) {
  xmlNode *c = next_elem(n->children);
  cr_assert_not_null(c, "no <%s>", name);
  cr_assert_str_eq((const char *)c->name, name);
  return (char *)xmlNodeGetContent(c);
}

Test(s3_xml, complete_body_round_trip, .timeout = 10) {
  const char *etags[] = {
      "\"fba9dede5f27731c9771645a39863328\"",
      "\"3858f62230ac3c915f300c664312c11f-9\"",
      "\"<odd> & 'etag' \xC3\xA9\"",
      "no-quotes",
  };
  const size_t n = sizeof(etags) / sizeof(etags[0]);
  char *body = NULL;
  size_t len = 0;
  TH_OK(sluice__s3_xml_complete_body(etags, n, &body, &len));
  cr_assert_eq(strlen(body), len);
  cr_assert(strncmp(body, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>", 38) == 0, "%s", body);
  cr_assert_null(strstr(body, "<odd>"), "ETag text not escaped:\n%s", body);
  xmlNode *root;
  xmlDoc *doc = read_back(body, len, "CompleteMultipartUpload", &root);
  size_t i = 0;
  for (xmlNode *part = next_elem(root->children); part; part = next_elem(part->next), i++) {
    cr_assert_lt(i, n);
    cr_assert_str_eq((const char *)part->name, "Part");
    xmlNode *num = next_elem(part->children);
    xmlNode *etag = next_elem(num->next);
    cr_assert_str_eq((const char *)num->name, "PartNumber");
    cr_assert_str_eq((const char *)etag->name, "ETag");
    cr_assert_null(next_elem(etag->next));
    char *nt = (char *)xmlNodeGetContent(num);
    char *et = (char *)xmlNodeGetContent(etag);
    char want[16];
    snprintf(want, sizeof(want), "%zu", i + 1);
    cr_assert_str_eq(nt, want);
    cr_assert_str_eq(et, etags[i]);
    xmlFree(nt);
    xmlFree(et);
  }
  cr_assert_eq(i, n);
  xmlFreeDoc(doc);
  free(body);
}

Test(s3_xml, complete_body_limits_and_bad_etags, .timeout = 30) {
  char *body = (char *)"untouched";
  size_t len = 99;
  const char *one[] = {"\"e\""};
  expect_err(sluice__s3_xml_complete_body(one, 0, &body, &len), SLUICE_ERR_INVALID_ARGUMENT,
             "CompleteMultipartUpload", "0 parts");
  cr_assert_null(body);
  cr_assert_eq(len, 0);
  expect_err(sluice__s3_xml_complete_body(NULL, 1, &body, &len), SLUICE_ERR_INVALID_ARGUMENT, NULL,
             NULL);
  expect_err(sluice__s3_xml_complete_body(one, 1, NULL, &len), SLUICE_ERR_INVALID_ARGUMENT, NULL,
             NULL);
  const char *with_null[] = {"\"a\"", NULL};
  expect_err(sluice__s3_xml_complete_body(with_null, 2, &body, &len), SLUICE_ERR_INVALID_ARGUMENT,
             "part 2", NULL);
  const char *with_empty[] = {""};
  expect_err(sluice__s3_xml_complete_body(with_empty, 1, &body, &len), SLUICE_ERR_INVALID_ARGUMENT,
             "part 1", NULL);
  const char *bad_utf8[] = {"\"a\"", "\"\xC3\x28\""};
  expect_err(sluice__s3_xml_complete_body(bad_utf8, 2, &body, &len), SLUICE_ERR_INVALID_ARGUMENT,
             "part 2", "UTF-8");
  const char *control[] = {"\"\x01\""};
  expect_err(sluice__s3_xml_complete_body(control, 1, &body, &len), SLUICE_ERR_INVALID_ARGUMENT,
             "part 1", NULL);

  /* The S3 maximum of 10,000 parts builds; one more does not. */
  const char **many = malloc(10001 * sizeof(*many));
  for (size_t i = 0; i < 10001; i++) many[i] = "\"0123456789abcdef0123456789abcdef\"";
  TH_OK(sluice__s3_xml_complete_body(many, 10000, &body, &len));
  xmlNode *root;
  xmlDoc *doc = read_back(body, len, "CompleteMultipartUpload", &root);
  size_t parts = 0;
  for (xmlNode *p = next_elem(root->children); p; p = next_elem(p->next)) parts++;
  cr_assert_eq(parts, 10000);
  xmlFreeDoc(doc);
  free(body);
  expect_err(sluice__s3_xml_complete_body(many, 10001, &body, &len), SLUICE_ERR_INVALID_ARGUMENT,
             "10001 parts", NULL);
  free(many);
}

Test(s3_xml, complete_result_success, .timeout = 10) {
  TH_OK(sluice__s3_xml_complete_result(complete_ok, strlen(complete_ok), "CompleteMultipartUpload",
                                       "big/object"));
  static const char plain[] =
      "<CompleteMultipartUploadResult><ETag>\"x-2\"</ETag>"
      "</CompleteMultipartUploadResult>";
  TH_OK(sluice__s3_xml_complete_result(plain, strlen(plain), NULL, NULL));
}

/* The per-part checksums AWS requires in Complete when the upload was
 * created with x-amz-checksum-algorithm, and the object's checksum read
 * back from the reply. */
Test(s3_xml, complete_checksums, .timeout = 10) {
  const char *etags[] = {"\"a\"", "\"b\""}, *cks[] = {"rosUhgp5mIg=", "AAAAAAAAAAA="};
  char *body = NULL;
  size_t len = 0;
  TH_OK(sluice__s3_xml_complete_body_checksums(etags, cks, "ChecksumCRC64NVME", 2, &body, &len));
  cr_assert(strstr(body,
                   "<PartNumber>1</PartNumber><ETag>&quot;a&quot;</ETag>"
                   "<ChecksumCRC64NVME>rosUhgp5mIg=</ChecksumCRC64NVME></Part>") ||
                strstr(body,
                       "<PartNumber>1</PartNumber><ETag>\"a\"</ETag>"
                       "<ChecksumCRC64NVME>rosUhgp5mIg=</ChecksumCRC64NVME></Part>"),
            "%s", body);
  cr_assert(strstr(body, "<ChecksumCRC64NVME>AAAAAAAAAAA=</ChecksumCRC64NVME>"), "%s", body);
  free(body);
  /* Without checksums: the plain body. */
  TH_OK(sluice__s3_xml_complete_body_checksums(etags, NULL, "ChecksumCRC64NVME", 2, &body, &len));
  cr_assert_null(strstr(body, "Checksum"), "%s", body);
  free(body);

  static const char reply[] =
      "<CompleteMultipartUploadResult><ETag>\"x-2\"</ETag>"
      "<ChecksumCRC64NVME> rosUhgp5mIg= </ChecksumCRC64NVME>"
      "<ChecksumType>FULL_OBJECT</ChecksumType></CompleteMultipartUploadResult>";
  char *v = NULL;
  TH_OK(sluice__s3_xml_complete_checksum(reply, strlen(reply), "ChecksumCRC64NVME", &v));
  cr_assert_str_eq(v, "rosUhgp5mIg=");
  free(v);
  TH_OK(sluice__s3_xml_complete_checksum(reply, strlen(reply), "ChecksumCRC32C", &v));
  cr_assert_null(v, "a checksum the reply does not carry");
  expect_err(sluice__s3_xml_complete_checksum("<a", 2, "ChecksumCRC32C", &v), SLUICE_ERR_UNEXPECTED,
             NULL, NULL);
}

Test(s3_xml, complete_result_200_with_internal_error, .timeout = 10) {
  sluice_error *e =
      sluice__s3_xml_complete_result(complete_internal_error, strlen(complete_internal_error),
                                     "CompleteMultipartUpload", "big/object");
  cr_assert_not_null(e);
  cr_assert_eq(sluice_error_kind(e), SLUICE_ERR_UNEXPECTED);
  cr_assert_eq(sluice_error_retryable(e), 1);
  cr_assert_eq(sluice_error_http_status(e), 200);
  cr_assert_str_eq(sluice_error_message(e),
                   "s3: CompleteMultipartUpload 'big/object': InternalError: We encountered an "
                   "internal error. Please try again. (HTTP 200)");
  sluice_error_free(e);

  static const char no_upload[] =
      "<Error><Code>NoSuchUpload</Code><Message>The specified upload does not exist.</Message>"
      "<UploadId>abc</UploadId></Error>";
  e = sluice__s3_xml_complete_result(no_upload, strlen(no_upload), NULL, "k");
  cr_assert_eq(sluice_error_retryable(e), 0);
  expect_err(e, SLUICE_ERR_NOT_FOUND, "CompleteMultipartUpload 'k'", "NoSuchUpload");
}

Test(s3_xml, complete_result_unexpected_replies, .timeout = 10) {
  expect_err(sluice__s3_xml_complete_result("", 0, NULL, "obj"), SLUICE_ERR_UNEXPECTED,
             "s3: CompleteMultipartUpload 'obj' reply: empty body", NULL);
  expect_err(sluice__s3_xml_complete_result("     ", 5, NULL, "obj"), SLUICE_ERR_UNEXPECTED,
             "empty body", NULL);
  static const char cut[] = "   <?xml version=\"1.0\"?>\n<CompleteMultipartUploadResult><Loc";
  expect_err(sluice__s3_xml_complete_result(cut, strlen(cut), NULL, "obj"), SLUICE_ERR_UNEXPECTED,
             "malformed", NULL);
  expect_err(sluice__s3_xml_complete_result(list_empty, strlen(list_empty), "Complete", "obj"),
             SLUICE_ERR_UNEXPECTED, "expected <CompleteMultipartUploadResult>", "ListBucketResult");
  /* An <Error> with neither code nor message still fails. */
  sluice_error *e = sluice__s3_xml_complete_result("<Error/>", 8, NULL, "obj");
  cr_assert_eq(sluice_error_http_status(e), 200);
  expect_err(e, SLUICE_ERR_UNEXPECTED, "s3: CompleteMultipartUpload 'obj': HTTP 200", NULL);
}

/* ------------------------------------------------------------------ */
/* Error documents                                                     */
/* ------------------------------------------------------------------ */

Test(s3_xml, error_documents, .timeout = 10) {
  struct {
    const char *doc, *code, *message;
  } cases[] = {
      {err_no_such_key, "NoSuchKey", "The resource you requested does not exist"},
      {err_slow_down, "SlowDown", "Please reduce your request rate."},
      {err_entity_too_small, "EntityTooSmall",
       "Your proposed upload is smaller than the minimum allowed object size."},
      {"<Error xmlns=\"" S3NS "\"><Code>AccessDenied</Code>"
       "<Message>Access Denied</Message></Error>",
       "AccessDenied", "Access Denied"},
      {"<Error><Code>\n  NoSuchBucket\n</Code></Error>", "NoSuchBucket", NULL},
      {"<Error><Message>only a message</Message></Error>", NULL, "only a message"},
      {"<Error><Code></Code><Message/></Error>", NULL, NULL},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char *code = (char *)"x", *msg = (char *)"x";
    cr_assert_eq(sluice__s3_xml_error(cases[i].doc, strlen(cases[i].doc), &code, &msg), 0,
                 "case %zu", i);
    if (cases[i].code)
      cr_assert(code && strcmp(code, cases[i].code) == 0, "case %zu: code %s", i, code);
    else
      cr_assert_null(code, "case %zu", i);
    if (cases[i].message)
      cr_assert(msg && strcmp(msg, cases[i].message) == 0, "case %zu: message %s", i, msg);
    else
      cr_assert_null(msg, "case %zu", i);
    free(code);
    free(msg);
  }
  /* Either output may be skipped. */
  char *code = NULL;
  cr_assert_eq(sluice__s3_xml_error(err_slow_down, strlen(err_slow_down), &code, NULL), 0);
  cr_assert_str_eq(code, "SlowDown");
  free(code);
  cr_assert_eq(sluice__s3_xml_error(err_slow_down, strlen(err_slow_down), NULL, NULL), 0);
}

Test(s3_xml, not_error_documents, .timeout = 10) {
  const char *docs[] = {list3_ns,      complete_ok, "<html><body>Bad Gateway</body></html>",
                        "Bad Gateway", "",          "<Error><Code>x</Code>",
                        "<ErrorX/>"};
  for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
    char *code = (char *)"x", *msg = (char *)"x";
    cr_assert_eq(sluice__s3_xml_error(docs[i], strlen(docs[i]), &code, &msg), -1, "doc %zu", i);
    cr_assert_null(code);
    cr_assert_null(msg);
  }
  cr_assert_eq(sluice__s3_xml_error(NULL, 0, NULL, NULL), -1);
  cr_assert_eq(sluice__s3_xml_error(NULL, 10, NULL, NULL), -1);
}

Test(s3_xml, error_document_to_sluice_error, .timeout = 10) {
  /* What the S3 service does with a failed reply: parse, then map. */
  struct {
    const char *doc;
    int status;
    sluice_errkind kind;
    int retryable;
  } cases[] = {
      {err_no_such_key, 404, SLUICE_ERR_NOT_FOUND, 0},
      {err_slow_down, 503, SLUICE_ERR_RATE_LIMITED, 1},
      {err_entity_too_small, 400, SLUICE_ERR_REJECTED, 0},
  };
  for (size_t i = 0; i < 3; i++) {
    char *code, *msg;
    cr_assert_eq(sluice__s3_xml_error(cases[i].doc, strlen(cases[i].doc), &code, &msg), 0);
    sluice_error *e =
        sluice__s3_error_from_reply(cases[i].status, code, msg, "UploadPart", "v/a.bin");
    cr_assert_eq(sluice_error_retryable(e), cases[i].retryable);
    cr_assert_eq(sluice_error_http_status(e), cases[i].status);
    char want[512];
    snprintf(want, sizeof(want), "s3: UploadPart 'v/a.bin': %s: %s (HTTP %d)", code, msg,
             cases[i].status);
    cr_assert_str_eq(sluice_error_message(e), want);
    expect_err(e, cases[i].kind, NULL, NULL);
    free(code);
    free(msg);
  }
}

/* ------------------------------------------------------------------ */
/* DeleteObjects                                                       */
/* ------------------------------------------------------------------ */

Test(s3_xml, delete_body_with_1000_keys, .timeout = 30) {
  static const char *const shapes[] = {
      "plain/key-%04zu.txt",   "amp & lt < gt > %04zu",
      "quote \" apos ' %04zu", "unicode \xE2\x98\x83 caf\xC3\xA9 %04zu \xF0\x9F\x98\x80",
      "cr\r lf\n tab\t %04zu",
  };
  enum { N = 1000 };
  char **keys = calloc(N, sizeof(*keys));
  for (size_t i = 0; i < N; i++) {
    int rc = asprintf(&keys[i], shapes[i % 5], i);
    cr_assert(rc > 0);
  }
  char *body = NULL;
  size_t len = 0;
  TH_OK(sluice__s3_xml_delete_body((const char *const *)keys, N, &body, &len));
  cr_assert_eq(strlen(body), len);
  xmlNode *root;
  xmlDoc *doc = read_back(body, len, "Delete", &root);
  xmlNode *c = next_elem(root->children);
  cr_assert_str_eq((const char *)c->name, "Quiet");
  char *quiet = (char *)xmlNodeGetContent(c);
  cr_assert_str_eq(quiet, "true");
  xmlFree(quiet);
  size_t i = 0;
  for (c = next_elem(c->next); c; c = next_elem(c->next), i++) {
    cr_assert_lt(i, N);
    cr_assert_str_eq((const char *)c->name, "Object");
    char *k = only_child_text(c, "Key");
    cr_assert_str_eq(k, keys[i], "key %zu differs after the round trip", i);
    xmlFree(k);
  }
  cr_assert_eq(i, N);
  xmlFreeDoc(doc);
  free(body);

  char *extra = NULL;
  char **more = realloc(keys, (N + 1) * sizeof(*keys));
  cr_assert_not_null(more);
  keys = more;
  keys[N] = extra = strdup("one-too-many");
  expect_err(sluice__s3_xml_delete_body((const char *const *)keys, N + 1, &body, &len),
             SLUICE_ERR_INVALID_ARGUMENT, "DeleteObjects", "1001 keys");
  cr_assert_null(body);
  for (i = 0; i <= N; i++) free(keys[i]);
  free(keys);
}

Test(s3_xml, delete_body_rejects_what_xml_cannot_carry, .timeout = 10) {
  char *body = NULL;
  size_t len = 0;
  const char *none[] = {"k"};
  expect_err(sluice__s3_xml_delete_body(none, 0, &body, &len), SLUICE_ERR_INVALID_ARGUMENT,
             "0 keys", NULL);
  expect_err(sluice__s3_xml_delete_body(NULL, 1, &body, &len), SLUICE_ERR_INVALID_ARGUMENT, NULL,
             NULL);
  expect_err(sluice__s3_xml_delete_body(none, 1, &body, NULL), SLUICE_ERR_INVALID_ARGUMENT, NULL,
             NULL);
  const char *bad[][2] = {
      {"ok", "ctl\x01"},
      {"ok", ""},
      {"ok", "\xFF\xFE"},
      {"ok", "overlong \xC0\xAF"},
      {"ok", "surrogate \xED\xA0\x80"},
      {"ok", "cut \xE2\x98"},
      {"ok", "nonchar \xEF\xBF\xBF"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    const char *keys[2] = {bad[i][0], bad[i][1]};
    expect_err(sluice__s3_xml_delete_body(keys, 2, &body, &len), SLUICE_ERR_INVALID_ARGUMENT,
               "key 1", NULL);
    cr_assert_null(body);
  }
}

Test(s3_xml, delete_result_success, .timeout = 10) {
  static const char quiet[] = XMLDECL "<DeleteResult xmlns=\"" S3NS "\"></DeleteResult>";
  TH_OK(sluice__s3_xml_delete_result(quiet, strlen(quiet), "DeleteObjects"));
  static const char verbose[] =
      "<DeleteResult><Deleted><Key>sample1.txt</Key></Deleted>"
      "<Deleted><Key>sample2.txt</Key><DeleteMarker>true</DeleteMarker>"
      "<DeleteMarkerVersionId>NeQt5xeFTfgPJD8B4CGWnkSLtluMr11s</DeleteMarkerVersionId></Deleted>"
      "</DeleteResult>";
  TH_OK(sluice__s3_xml_delete_result(verbose, strlen(verbose), NULL));
  /* A key that did not exist was not deleted, which is success here. */
  static const char missing[] =
      "<DeleteResult><Error><Key>gone</Key><Code>NoSuchKey</Code><Message>x</Message></Error>"
      "</DeleteResult>";
  TH_OK(sluice__s3_xml_delete_result(missing, strlen(missing), NULL));
}

Test(s3_xml, delete_result_errors_name_the_key, .timeout = 10) {
  static const char doc[] =
      XMLDECL "<DeleteResult xmlns=\"" S3NS
              "\">\n"
              "  <Deleted><Key>sample1.txt</Key></Deleted>\n"
              "  <Error><Key>gone</Key><Code>NoSuchKey</Code><Message>x</Message></Error>\n"
              "  <Error><Key>R&amp;D/sample2.txt</Key><Code>AccessDenied</Code>"
              "<Message>Access Denied</Message></Error>\n"
              "  <Error><Key>sample3.txt</Key><Code>InternalError</Code>"
              "<Message>We encountered an internal error. Please try again.</Message></Error>\n"
              "</DeleteResult>";
  sluice_error *e = sluice__s3_xml_delete_result(doc, strlen(doc), "DeleteObjects");
  cr_assert_not_null(e);
  cr_assert_str_eq(sluice_error_message(e),
                   "s3: DeleteObjects 'R&D/sample2.txt': AccessDenied: Access Denied (HTTP 200); "
                   "1 more keys failed");
  cr_assert_eq(sluice_error_retryable(e), 0);
  cr_assert_eq(sluice_error_http_status(e), 200);
  /* The first key's code stays reachable after "more keys failed". */
  cr_assert_eq(sluice_error_cause_type(e), SLUICE_CAUSE_SERVICE);
  cr_assert_str_eq(sluice_error_service_code(e), "AccessDenied");
  expect_err(e, SLUICE_ERR_PERMISSION_DENIED, NULL, NULL);

  static const char slow[] =
      "<DeleteResult><Error><Key>k</Key><Code>SlowDown</Code><Message>Please reduce your request "
      "rate.</Message></Error></DeleteResult>";
  e = sluice__s3_xml_delete_result(slow, strlen(slow), NULL);
  cr_assert_eq(sluice_error_retryable(e), 1);
  cr_assert_str_eq(sluice_error_service_code(e), "SlowDown");
  expect_err(e, SLUICE_ERR_RATE_LIMITED, "s3: DeleteObjects 'k': SlowDown", NULL);

  static const char whole[] =
      "<Error><Code>MalformedXML</Code><Message>The XML you provided was not well-formed or did "
      "not validate against our published schema.</Message></Error>";
  expect_err(sluice__s3_xml_delete_result(whole, strlen(whole), NULL), SLUICE_ERR_REJECTED,
             "s3: DeleteObjects: MalformedXML: ", NULL);
  expect_err(sluice__s3_xml_delete_result("<DeleteResult>", 14, NULL), SLUICE_ERR_UNEXPECTED,
             "s3: DeleteObjects reply: malformed", NULL);
  expect_err(sluice__s3_xml_delete_result(list_empty, strlen(list_empty), NULL),
             SLUICE_ERR_UNEXPECTED, "expected <DeleteResult>", NULL);
}

/* ------------------------------------------------------------------ */
/* ISO-8601                                                            */
/* ------------------------------------------------------------------ */

Test(s3_xml, iso8601_times, .timeout = 10) {
  struct {
    const char *s;
    int64_t want; /* -1: must be refused */
  } cases[] = {
      {"2009-10-12T17:50:30.000Z", 1255369830},
      {"2009-10-12T17:50:30Z", 1255369830},
      {"2009-10-12t17:50:30.123456789z", 1255369830},
      {"2009-10-12T19:50:30+02:00", 1255369830},
      {"2009-10-12T15:20:30-0230", 1255369830},
      {" 2009-10-12T17:50:30.000Z\n", 1255369830},
      {"1970-01-01T00:00:00.000Z", 0},
      {"2024-02-29T23:59:59Z", 1709251199},
      {"2000-02-29T00:00:00Z", 951782400},
      {"2038-01-19T03:14:08Z", 2147483648LL},
      {"2106-02-07T06:28:16Z", 4294967296LL},
      {"1969-07-20T20:17:40Z", -14182940},
      {"2023-02-29T00:00:00Z", -1},
      {"1900-02-29T00:00:00Z", -1},
      {"2009-13-12T17:50:30Z", -1},
      {"2009-10-32T17:50:30Z", -1},
      {"2009-10-12T24:00:00Z", -1},
      {"2009-10-12T17:60:30Z", -1},
      {"2009-10-12T17:50:30", -1},
      {"2009-10-12T17:50:30.Z", -1},
      {"2009-10-12 17:50:30Z", -1},
      {"2009-10-12T17:50:30Zjunk", -1},
      {"2009-10-12", -1},
      {"", -1},
      {"Mon, 12 Oct 2009 17:50:30 GMT", -1},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    int64_t got = 12345;
    int rc = sluice__s3_parse_iso8601(cases[i].s, &got);
    if (cases[i].want == -1) {
      cr_expect_eq(rc, -1, "'%s' accepted as %lld", cases[i].s, (long long)got);
      cr_expect_eq(got, -1);
    } else {
      cr_expect_eq(rc, 0, "'%s' refused", cases[i].s);
      cr_expect_eq(got, cases[i].want, "'%s': %lld, expected %lld", cases[i].s, (long long)got,
                   (long long)cases[i].want);
    }
  }
  cr_assert_eq(sluice__s3_parse_iso8601(NULL, NULL), -1);
}

/* ------------------------------------------------------------------ */
/* Status and code -> kind and retryable                               */
/* ------------------------------------------------------------------ */

struct map_row {
  int status;
  const char *code;
  sluice_errkind kind;
  int retryable;
};

static const struct map_row map_rows[] = {
    {404, NULL, SLUICE_ERR_NOT_FOUND, 0},
    {404, "NoSuchKey", SLUICE_ERR_NOT_FOUND, 0},
    {404, "NoSuchBucket", SLUICE_ERR_NOT_FOUND, 0},
    {404, "NoSuchUpload", SLUICE_ERR_NOT_FOUND, 0},
    {404, "SomeNewNotFoundCode", SLUICE_ERR_NOT_FOUND, 0},
    {403, NULL, SLUICE_ERR_PERMISSION_DENIED, 0},
    {403, "AccessDenied", SLUICE_ERR_PERMISSION_DENIED, 0},
    {403, "SignatureDoesNotMatch", SLUICE_ERR_PERMISSION_DENIED, 0},
    {403, "InvalidAccessKeyId", SLUICE_ERR_PERMISSION_DENIED, 0},
    {403, "RequestTimeTooSkewed", SLUICE_ERR_PERMISSION_DENIED, 0},
    {401, NULL, SLUICE_ERR_PERMISSION_DENIED, 0},
    {409, "BucketAlreadyExists", SLUICE_ERR_ALREADY_EXISTS, 0},
    {409, "BucketAlreadyOwnedByYou", SLUICE_ERR_ALREADY_EXISTS, 0},
    {409, NULL, SLUICE_ERR_ALREADY_EXISTS, 0},
    {409, "ConditionalRequestConflict", SLUICE_ERR_CONDITION_NOT_MATCH, 1},
    {409, "OperationAborted", SLUICE_ERR_UNEXPECTED, 1},
    {412, "PreconditionFailed", SLUICE_ERR_CONDITION_NOT_MATCH, 0},
    {412, NULL, SLUICE_ERR_CONDITION_NOT_MATCH, 0},
    {304, NULL, SLUICE_ERR_CONDITION_NOT_MATCH, 0},
    {416, "InvalidRange", SLUICE_ERR_RANGE_NOT_SATISFIABLE, 0},
    {416, NULL, SLUICE_ERR_RANGE_NOT_SATISFIABLE, 0},
    {400, "EntityTooSmall", SLUICE_ERR_REJECTED, 0},
    {400, "InvalidPart", SLUICE_ERR_REJECTED, 0},
    {400, "InvalidPartOrder", SLUICE_ERR_REJECTED, 0},
    {400, "InvalidArgument", SLUICE_ERR_INVALID_ARGUMENT, 0},
    {400, "BadDigest", SLUICE_ERR_REJECTED, 1},
    {400, "InvalidDigest", SLUICE_ERR_REJECTED, 0},
    {400, "MalformedXML", SLUICE_ERR_REJECTED, 0},
    {400, "KeyTooLongError", SLUICE_ERR_INVALID_ARGUMENT, 0},
    {400, "EntityTooLarge", SLUICE_ERR_REJECTED, 0},
    {400, "XAmzContentSHA256Mismatch", SLUICE_ERR_REJECTED, 1},
    {400, NULL, SLUICE_ERR_REJECTED, 0},
    {414, NULL, SLUICE_ERR_INVALID_ARGUMENT, 0},
    {400, "InvalidBucketName", SLUICE_ERR_INVALID_ARGUMENT, 0},
    {400, "SomeNewCode", SLUICE_ERR_REJECTED, 0},
    {400, "RequestTimeout", SLUICE_ERR_TIMEOUT, 1},
    {400, "IncompleteBody", SLUICE_ERR_NETWORK, 1},
    {400, "AuthorizationHeaderMalformed", SLUICE_ERR_CONFIG_INVALID, 0},
    {408, NULL, SLUICE_ERR_TIMEOUT, 1},
    {429, NULL, SLUICE_ERR_RATE_LIMITED, 1},
    {429, "TooManyRequests", SLUICE_ERR_RATE_LIMITED, 1},
    {503, "SlowDown", SLUICE_ERR_RATE_LIMITED, 1},
    {503, "ServiceUnavailable", SLUICE_ERR_RATE_LIMITED, 1},
    {503, NULL, SLUICE_ERR_RATE_LIMITED, 1},
    {500, "InternalError", SLUICE_ERR_UNEXPECTED, 1},
    {500, NULL, SLUICE_ERR_UNEXPECTED, 1},
    {502, NULL, SLUICE_ERR_NETWORK, 1},
    {504, NULL, SLUICE_ERR_NETWORK, 1},
    {501, "NotImplemented", SLUICE_ERR_UNSUPPORTED, 0},
    {501, NULL, SLUICE_ERR_UNSUPPORTED, 0},
    {405, "MethodNotAllowed", SLUICE_ERR_UNSUPPORTED, 0},
    {507, NULL, SLUICE_ERR_UNEXPECTED, 1},
    {599, "Whatever", SLUICE_ERR_UNEXPECTED, 1},
    {418, NULL, SLUICE_ERR_UNEXPECTED, 0},
    {451, "Unknown", SLUICE_ERR_UNEXPECTED, 0},
    {301, "PermanentRedirect", SLUICE_ERR_CONFIG_INVALID, 0},
    {307, NULL, SLUICE_ERR_CONFIG_INVALID, 0},
    /* 200 replies that carry an <Error> (CompleteMultipartUpload, CopyObject). */
    {200, "InternalError", SLUICE_ERR_UNEXPECTED, 1},
    {200, "SlowDown", SLUICE_ERR_RATE_LIMITED, 1},
    {200, "NoSuchUpload", SLUICE_ERR_NOT_FOUND, 0},
    {200, "InvalidPart", SLUICE_ERR_REJECTED, 0},
    {200, NULL, SLUICE_ERR_UNEXPECTED, 0},
    {200, "Unknown", SLUICE_ERR_UNEXPECTED, 0},
    {0, NULL, SLUICE_ERR_UNEXPECTED, 0},
};

Test(s3_xml, status_and_code_mapping_table, .timeout = 10) {
  for (size_t i = 0; i < sizeof(map_rows) / sizeof(map_rows[0]); i++) {
    const struct map_row *r = &map_rows[i];
    sluice_error *e = sluice__s3_error_from_reply(r->status, r->code, "msg", "HeadObject", "a/b");
    cr_assert_not_null(e);
    const char *m = sluice_error_message(e);
    cr_expect_eq(sluice_error_kind(e), r->kind, "%d %s: expected %s, got %s (%s)", r->status,
                 r->code ? r->code : "(none)", sluice_strerror(r->kind),
                 sluice_strerror(sluice_error_kind(e)), m);
    cr_expect_eq(sluice_error_retryable(e), r->retryable, "%d %s: retryable %d, expected %d",
                 r->status, r->code ? r->code : "(none)", sluice_error_retryable(e), r->retryable);
    cr_expect_eq(sluice_error_http_status(e), r->status);
    cr_expect_eq(sluice__s3_retryable_status(r->status, r->code), r->retryable,
                 "retryable_status(%d, %s)", r->status, r->code ? r->code : "(none)");
    cr_expect(strncmp(m, "s3: HeadObject 'a/b': ", 22) == 0, "%s", m);
    char http[32];
    snprintf(http, sizeof(http), "(HTTP %d)", r->status);
    cr_expect(strstr(m, http) != NULL, "%s", m);
    cr_expect(!r->code || strstr(m, r->code) != NULL, "%s", m);
    /* The code as the server sent it, known to the table or not; with no
     * code, the status is the cause. */
    if (r->code) {
      cr_expect_eq(sluice_error_cause_type(e), SLUICE_CAUSE_SERVICE, "%s", m);
      cr_expect(sluice_error_service_code(e) && !strcmp(sluice_error_service_code(e), r->code),
                "%s: service code %s", m, sluice_error_service_code(e));
    } else {
      cr_expect_eq(sluice_error_cause_type(e), r->status ? SLUICE_CAUSE_HTTP : SLUICE_CAUSE_NONE,
                   "%s", m);
      cr_expect_null(sluice_error_service_code(e));
    }
    sluice_error_free(e);
  }
}

Test(s3_xml, reply_message_formats, .timeout = 10) {
  struct {
    int status;
    const char *code, *message, *op, *path, *want;
  } cases[] = {
      {404, "NoSuchKey", "The resource you requested does not exist", "GetObject", "dir/a.txt",
       "s3: GetObject 'dir/a.txt': NoSuchKey: The resource you requested does not exist "
       "(HTTP 404)"},
      {404, NULL, NULL, "HeadObject", "dir/a.txt", "s3: HeadObject 'dir/a.txt': HTTP 404"},
      {503, "SlowDown", NULL, "UploadPart", "x", "s3: UploadPart 'x': SlowDown (HTTP 503)"},
      {502, NULL, "Bad Gateway", "PutObject", "x", "s3: PutObject 'x': Bad Gateway (HTTP 502)"},
      {403, "", "", "PutObject", "x", "s3: PutObject 'x': HTTP 403"},
      {500, "InternalError", "boom", NULL, NULL, "s3: request: InternalError: boom (HTTP 500)"},
      {404, NULL, NULL, "ListObjectsV2", NULL, "s3: ListObjectsV2: HTTP 404"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    sluice_error *e = sluice__s3_error_from_reply(cases[i].status, cases[i].code, cases[i].message,
                                                  cases[i].op, cases[i].path);
    cr_expect_str_eq(sluice_error_message(e), cases[i].want);
    sluice_error_free(e);
  }
}

Test(s3_xml, bad_digest_says_corrupted_in_transit, .timeout = 10) {
  sluice_error *e = sluice__s3_error_from_reply(
      400, "BadDigest", "The Content-MD5 you specified did not match what we received.",
      "UploadPart", "big.iso");
  cr_assert(strstr(sluice_error_message(e), "corrupted in transit"), "%s", sluice_error_message(e));
  cr_assert(strstr(sluice_error_message(e), "s3: UploadPart 'big.iso': BadDigest: "), "%s",
            sluice_error_message(e));
  expect_err(e, SLUICE_ERR_REJECTED, NULL, NULL);
  e = sluice__s3_error_from_reply(400, "XAmzContentSHA256Mismatch", NULL, "PutObject", "k");
  expect_err(e, SLUICE_ERR_REJECTED, "corrupted in transit", NULL);
  e = sluice__s3_error_from_reply(400, "InvalidDigest", "bad", "PutObject", "k");
  cr_assert_null(strstr(sluice_error_message(e), "transit"));
  sluice_error_free(e);
}

/* A key and a server message hold a newline, an ESC sequence, a C1 CSI
 * and a byte that is not UTF-8: the message a person reads carries none of
 * them raw, and an error that quotes it is not escaped twice. */
Test(s3_xml, server_text_in_messages_is_escaped, .timeout = 10) {
  sluice_error *e = sluice__s3_error_from_reply(403, "AccessDenied", "no\n\033[2Jway\xc2\x9b\xff",
                                                "GetObject", "a\nb\tc");
  cr_assert_str_eq(sluice_error_message(e),
                   "s3: GetObject 'a\\nb\\tc': AccessDenied: no\\n\\033[2Jway\\302\\233\\377 "
                   "(HTTP 403)");
  sluice_error *again = sluice__httpreq_error_note_attempts(e, 3);
  cr_assert_str_eq(sluice_error_message(again),
                   "s3: GetObject 'a\\nb\\tc': AccessDenied: no\\n\\033[2Jway\\302\\233\\377 "
                   "(HTTP 403) after 3 attempts");
  sluice_error_free(again);
  /* Printable UTF-8 stays as it is. */
  e = sluice__s3_error_from_reply(404, NULL, NULL, "HeadObject", "caf\xc3\xa9/\xe2\x82\xac");
  cr_assert_str_eq(sluice_error_message(e), "s3: HeadObject 'caf\xc3\xa9/\xe2\x82\xac': HTTP 404");
  sluice_error_free(e);
}

/* ------------------------------------------------------------------ */
/* Transport failures                                                  */
/* ------------------------------------------------------------------ */

Test(s3_xml, transport_mapping_table, .timeout = 10) {
  struct {
    int code, attempts;
    sluice_errkind kind;
    int retryable;
  } rows[] = {
      {CURLE_COULDNT_CONNECT, 1, SLUICE_ERR_NETWORK, 1},
      {CURLE_COULDNT_CONNECT, 5, SLUICE_ERR_NETWORK, 1},
      {CURLE_COULDNT_RESOLVE_HOST, 1, SLUICE_ERR_NETWORK, 1},
      {CURLE_COULDNT_RESOLVE_HOST, 0, SLUICE_ERR_NETWORK, 1},
      {CURLE_COULDNT_RESOLVE_HOST, 3, SLUICE_ERR_NETWORK, 0},
      {CURLE_SEND_ERROR, 1, SLUICE_ERR_NETWORK, 1},
      {CURLE_RECV_ERROR, 1, SLUICE_ERR_NETWORK, 1},
      {CURLE_GOT_NOTHING, 1, SLUICE_ERR_NETWORK, 1},
      {CURLE_PARTIAL_FILE, 1, SLUICE_ERR_NETWORK, 1},
      {CURLE_OPERATION_TIMEDOUT, 1, SLUICE_ERR_TIMEOUT, 1},
      {CURLE_PEER_FAILED_VERIFICATION, 1, SLUICE_ERR_NETWORK, 0},
      {CURLE_SSL_CONNECT_ERROR, 1, SLUICE_ERR_NETWORK, 0},
      {CURLE_SSL_CACERT_BADFILE, 1, SLUICE_ERR_NETWORK, 0},
      {CURLE_SSL_CERTPROBLEM, 1, SLUICE_ERR_NETWORK, 0},
      {CURLE_ABORTED_BY_CALLBACK, 1, SLUICE_ERR_CANCELED, 0},
      {CURLE_URL_MALFORMAT, 1, SLUICE_ERR_CONFIG_INVALID, 0},
      {CURLE_OUT_OF_MEMORY, 1, SLUICE_ERR_OUT_OF_MEMORY, 0},
      {CURLE_FILESIZE_EXCEEDED, 1, SLUICE_ERR_UNEXPECTED, 0},
  };
  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    sluice_error *e = sluice__httpreq_error_from_transport("s3", rows[i].code, "detail text",
                                                           "GetObject", "dir/f", rows[i].attempts);
    const char *m = sluice_error_message(e);
    cr_expect_eq(sluice_error_kind(e), rows[i].kind, "curl %d: expected %s, got %s (%s)",
                 rows[i].code, sluice_strerror(rows[i].kind), sluice_strerror(sluice_error_kind(e)),
                 m);
    cr_expect_eq(sluice_error_retryable(e), rows[i].retryable, "curl %d x%d: %s", rows[i].code,
                 rows[i].attempts, m);
    cr_expect_eq(sluice_error_http_status(e), 0);
    cr_expect_eq(sluice_error_cause_type(e), SLUICE_CAUSE_CURL, "curl %d: %s", rows[i].code, m);
    cr_expect_eq(sluice_error_curl_code(e), rows[i].code, "%s", m);
    cr_expect_null(sluice_error_service_code(e));
    cr_expect(strncmp(m, "s3: GetObject 'dir/f': ", 23) == 0, "%s", m);
    cr_expect(strstr(m, "detail text") != NULL, "%s", m);
    cr_expect(strstr(m, "after") == NULL || rows[i].attempts > 1, "%s", m);
    if (rows[i].attempts > 1) {
      char after[32];
      snprintf(after, sizeof(after), " after %d attempts", rows[i].attempts);
      cr_expect(strstr(m, after) != NULL, "%s", m);
    }
    sluice_error_free(e);
  }
}

Test(s3_xml, transport_message_formats, .timeout = 10) {
  char want[512];
  sluice_error *e = sluice__httpreq_error_from_transport(
      "s3", CURLE_COULDNT_CONNECT, "Failed to connect to 127.0.0.1 port 9: Connection refused\n",
      "PutObject", "a b", 3);
  snprintf(want, sizeof(want),
           "s3: PutObject 'a b': %s: Failed to connect to 127.0.0.1 port 9: Connection refused "
           "(curl error 7) after 3 attempts",
           curl_easy_strerror(CURLE_COULDNT_CONNECT));
  cr_assert_str_eq(sluice_error_message(e), want);
  sluice_error_free(e);

  e = sluice__httpreq_error_from_transport("s3", CURLE_PEER_FAILED_VERIFICATION,
                                           "SSL certificate problem: self-signed certificate",
                                           "GetObject", "k", 1);
  cr_assert_str_eq(sluice_error_message(e),
                   "s3: GetObject 'k': TLS verification failed: SSL certificate problem: "
                   "self-signed certificate (curl error 60)");
  sluice_error_free(e);

  e = sluice__httpreq_error_from_transport("s3", CURLE_OPERATION_TIMEDOUT, NULL, NULL, NULL, 1);
  snprintf(want, sizeof(want), "s3: request: %s (curl error 28)",
           curl_easy_strerror(CURLE_OPERATION_TIMEDOUT));
  cr_assert_str_eq(sluice_error_message(e), want);
  sluice_error_free(e);

  e = sluice__httpreq_error_from_transport("s3", CURLE_RECV_ERROR, "", "GetObject", "k", 2);
  snprintf(want, sizeof(want), "s3: GetObject 'k': %s (curl error 56) after 2 attempts",
           curl_easy_strerror(CURLE_RECV_ERROR));
  cr_assert_str_eq(sluice_error_message(e), want);
  sluice_error_free(e);

  /* A code curl does not know still gives a message. */
  e = sluice__httpreq_error_from_transport("s3", 9999, NULL, "GetObject", "k", 1);
  expect_err(e, SLUICE_ERR_UNEXPECTED, "curl error 9999", NULL);
}

Test(s3_xml, note_attempts_keeps_kind_and_flags, .timeout = 10) {
  sluice_error *e = sluice__s3_error_from_reply(503, "SlowDown", "Please reduce your request rate.",
                                                "UploadPart", "k");
  e = sluice__httpreq_error_note_attempts(e, 1);
  cr_assert_null(strstr(sluice_error_message(e), "after"));
  e = sluice__httpreq_error_note_attempts(e, 10);
  cr_assert_str_eq(sluice_error_message(e),
                   "s3: UploadPart 'k': SlowDown: Please reduce your request rate. (HTTP 503) "
                   "after 10 attempts");
  cr_assert_eq(sluice_error_retryable(e), 1);
  cr_assert_eq(sluice_error_http_status(e), 503);
  cr_assert_str_eq(sluice_error_service_code(e), "SlowDown", "the S3 code survives the retries");
  expect_err(e, SLUICE_ERR_RATE_LIMITED, NULL, NULL);
  e = sluice__httpreq_error_note_attempts(
      sluice__httpreq_error_from_transport("s3", CURLE_RECV_ERROR, NULL, "GetObject", "k", 1), 3);
  cr_assert_eq(sluice_error_cause_type(e), SLUICE_CAUSE_CURL);
  cr_assert_eq(sluice_error_curl_code(e), CURLE_RECV_ERROR);
  sluice_error_free(e);
  cr_assert_null(sluice__httpreq_error_note_attempts(NULL, 3));
}

/* ------------------------------------------------------------------ */
/* Threads                                                             */
/* ------------------------------------------------------------------ */

static atomic_int thread_failures;

static void *parse_many(void *arg) {
  (void)arg;
  const char *etags[] = {"\"a\"", "\"b\""};
  for (int i = 0; i < 200; i++) {
    sluice__s3_list_page p;
    sluice_error *e = sluice__s3_xml_list_objects(list3_ns, strlen(list3_ns), &p);
    if (e || p.nobjects != 3 || strcmp(p.objects[2].key, "photos/c.bin") != 0)
      atomic_fetch_add(&thread_failures, 1);
    sluice_error_free(e);
    sluice__s3_list_page_clear(&p);
    char *body = NULL;
    size_t len;
    e = sluice__s3_xml_complete_body(etags, 2, &body, &len);
    if (e || !strstr(body, "<PartNumber>2</PartNumber>")) atomic_fetch_add(&thread_failures, 1);
    sluice_error_free(e);
    free(body);
    char *code = NULL;
    if (sluice__s3_xml_error(bomb_error, strlen(bomb_error), &code, NULL) != -1)
      atomic_fetch_add(&thread_failures, 1);
    free(code);
  }
  return NULL;
}

Test(s3_xml, parsing_from_many_threads, .timeout = 120) {
  /* The first calls race on the one-time libxml2 initialisation. */
  enum { T = 8 };
  pthread_t th[T];
  for (int i = 0; i < T; i++) cr_assert_eq(pthread_create(&th[i], NULL, parse_many, NULL), 0);
  for (int i = 0; i < T; i++) pthread_join(th[i], NULL);
  cr_assert_eq(atomic_load(&thread_failures), 0);
}
