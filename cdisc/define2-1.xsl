<?xml version="1.0" encoding="UTF-8"?>
<!-- Renders a Define-XML 2.1 document as one HTML page in the reviewer's browser: the study, the
     standards, a table of datasets, then per dataset its variables (key, type, length, controlled
     terms, origin, derivation), value-level metadata, codelists with their NCI codes, methods and
     comments, each linked from where it is used. Written for this pipeline (XSLT 1.0, which every
     browser applies); it follows the sections of CDISC's published define2-1.xsl. -->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
                xmlns:odm="http://www.cdisc.org/ns/odm/v1.3" xmlns:def="http://www.cdisc.org/ns/def/v2.1"
                xmlns:xlink="http://www.w3.org/1999/xlink" exclude-result-prefixes="odm def xlink">
  <xsl:output method="html" encoding="UTF-8" indent="yes" doctype-system="about:legacy-compat"/>

  <xsl:key name="item" match="odm:ItemDef" use="@OID"/>
  <xsl:key name="codelist" match="odm:CodeList" use="@OID"/>
  <xsl:key name="method" match="odm:MethodDef" use="@OID"/>
  <xsl:key name="comment" match="def:CommentDef" use="@OID"/>
  <xsl:key name="valuelist" match="def:ValueListDef" use="@OID"/>
  <xsl:key name="where" match="def:WhereClauseDef" use="@OID"/>
  <xsl:key name="leaf" match="def:leaf" use="@ID"/>

  <xsl:variable name="mdv" select="/odm:ODM/odm:Study/odm:MetaDataVersion"/>

  <xsl:template match="/">
    <html lang="en">
      <head>
        <meta charset="utf-8"/>
        <title><xsl:value-of select="$mdv/@Name"/></title>
        <style>
          body{font-family:system-ui,sans-serif;margin:1.5em 2em;color:#222;font-size:14px}
          h1{font-size:1.5em} h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #999}
          table{border-collapse:collapse;margin:.5em 0 1em} td,th{border:1px solid #bbb;padding:.2em .5em;
          text-align:left;vertical-align:top} th{background:#e8eef5} .key{font-weight:bold}
          nav a{margin-right:1em} .muted{color:#666}
        </style>
      </head>
      <body>
        <h1><xsl:value-of select="/odm:ODM/odm:Study/odm:GlobalVariables/odm:StudyName"/>:
          <xsl:value-of select="$mdv/@Description"/></h1>
        <p><xsl:value-of select="/odm:ODM/odm:Study/odm:GlobalVariables/odm:StudyDescription"/></p>
        <p class="muted">Define-XML <xsl:value-of select="$mdv/@def:DefineVersion"/>, created
          <xsl:value-of select="/odm:ODM/@CreationDateTime"/>.
          Standards: <xsl:for-each select="$mdv/def:Standards/def:Standard">
            <xsl:value-of select="concat(@Name, ' ', @Version)"/>
            <xsl:if test="position() != last()">, </xsl:if></xsl:for-each>.
          <xsl:for-each select="$mdv/def:AnnotatedCRF/def:DocumentRef">
            <a href="{key('leaf', @leafID)/@xlink:href}"><xsl:value-of select="key('leaf', @leafID)/def:title"/></a>.
          </xsl:for-each></p>
        <nav><a href="#datasets">Datasets</a><a href="#valuelevel">Value-level metadata</a>
          <a href="#codelists">Codelists</a><a href="#methods">Methods</a><a href="#comments">Comments</a></nav>

        <h2 id="datasets">Datasets</h2>
        <table>
          <tr><th>Dataset</th><th>Description</th><th>Class</th><th>Structure</th><th>Purpose</th><th>Keys</th><th>Location</th></tr>
          <xsl:for-each select="$mdv/odm:ItemGroupDef">
            <tr>
              <td><a href="#{@OID}"><xsl:value-of select="@Name"/></a></td>
              <td><xsl:value-of select="odm:Description/odm:TranslatedText"/></td>
              <td><xsl:value-of select="def:Class/@Name"/></td>
              <td><xsl:value-of select="@def:Structure"/></td>
              <td><xsl:value-of select="@Purpose"/></td>
              <td><xsl:for-each select="odm:ItemRef[@KeySequence]">
                <xsl:sort select="@KeySequence" data-type="number"/>
                <xsl:value-of select="key('item', @ItemOID)/@Name"/>
                <xsl:if test="position() != last()">, </xsl:if></xsl:for-each></td>
              <td><a href="{def:leaf/@xlink:href}"><xsl:value-of select="def:leaf/def:title"/></a></td>
            </tr>
          </xsl:for-each>
        </table>

        <xsl:apply-templates select="$mdv/odm:ItemGroupDef"/>

        <h2 id="valuelevel">Value-level metadata</h2>
        <xsl:apply-templates select="$mdv/def:ValueListDef"/>

        <h2 id="codelists">Codelists</h2>
        <xsl:apply-templates select="$mdv/odm:CodeList"/>

        <h2 id="methods">Methods</h2>
        <table>
          <tr><th>Method</th><th>Type</th><th>Description</th></tr>
          <xsl:for-each select="$mdv/odm:MethodDef">
            <tr id="{@OID}"><td><xsl:value-of select="@Name"/></td><td><xsl:value-of select="@Type"/></td>
              <td><xsl:value-of select="odm:Description/odm:TranslatedText"/></td></tr>
          </xsl:for-each>
        </table>

        <h2 id="comments">Comments</h2>
        <table>
          <tr><th>Comment</th><th>Text</th></tr>
          <xsl:for-each select="$mdv/def:CommentDef">
            <tr id="{@OID}"><td><xsl:value-of select="@OID"/></td>
              <td><xsl:value-of select="odm:Description/odm:TranslatedText"/></td></tr>
          </xsl:for-each>
        </table>
      </body>
    </html>
  </xsl:template>

  <!-- one dataset: its variables in order -->
  <xsl:template match="odm:ItemGroupDef">
    <h2 id="{@OID}"><xsl:value-of select="concat(@Name, ' (', odm:Description/odm:TranslatedText, ')')"/></h2>
    <p class="muted"><xsl:value-of select="@def:Structure"/>
      <xsl:if test="@def:CommentOID">. <a href="#{@def:CommentOID}">Comment</a></xsl:if></p>
    <table>
      <tr><th>Variable</th><th>Label</th><th>Key</th><th>Type</th><th>Length</th><th>Controlled terms or format</th>
        <th>Origin</th><th>Derivation or comment</th></tr>
      <xsl:for-each select="odm:ItemRef">
        <xsl:sort select="@OrderNumber" data-type="number"/>
        <xsl:call-template name="item-row"><xsl:with-param name="ref" select="."/></xsl:call-template>
      </xsl:for-each>
    </table>
  </xsl:template>

  <xsl:template name="item-row">
    <xsl:param name="ref"/>
    <xsl:variable name="item" select="key('item', $ref/@ItemOID)"/>
    <tr>
      <td><xsl:if test="$ref/@KeySequence"><xsl:attribute name="class">key</xsl:attribute></xsl:if>
        <xsl:value-of select="$item/@Name"/>
        <xsl:if test="$item/def:ValueListRef"> (<a href="#{$item/def:ValueListRef/@ValueListOID}">values</a>)</xsl:if></td>
      <td><xsl:value-of select="$item/odm:Description/odm:TranslatedText"/></td>
      <td><xsl:value-of select="$ref/@KeySequence"/></td>
      <td><xsl:value-of select="$item/@DataType"/></td>
      <td><xsl:value-of select="$item/@Length"/></td>
      <td><xsl:if test="$item/odm:CodeListRef">
            <a href="#{$item/odm:CodeListRef/@CodeListOID}">
              <xsl:value-of select="key('codelist', $item/odm:CodeListRef/@CodeListOID)/@Name"/></a></xsl:if>
        <xsl:value-of select="$item/@def:DisplayFormat"/></td>
      <td><xsl:value-of select="$item/def:Origin/@Type"/>
        <xsl:if test="$item/def:Origin/@Source"> (<xsl:value-of select="$item/def:Origin/@Source"/>)</xsl:if>
        <xsl:if test="$item/def:Origin/odm:Description">: <xsl:value-of select="$item/def:Origin/odm:Description/odm:TranslatedText"/></xsl:if>
        <xsl:for-each select="$item/def:Origin/def:DocumentRef">
          <xsl:variable name="href" select="key('leaf', @leafID)/@xlink:href"/>
          <xsl:for-each select="def:PDFPageRef">, aCRF page
            <xsl:call-template name="page-links">
              <xsl:with-param name="href" select="$href"/>
              <xsl:with-param name="pages" select="normalize-space(@PageRefs)"/>
            </xsl:call-template></xsl:for-each>
        </xsl:for-each></td>
      <td><xsl:if test="$ref/@MethodOID">
            <a href="#{$ref/@MethodOID}"><xsl:value-of select="key('method', $ref/@MethodOID)/@Name"/></a>:
            <xsl:value-of select="key('method', $ref/@MethodOID)/odm:Description/odm:TranslatedText"/></xsl:if>
        <xsl:if test="$item/@def:CommentOID">
          <xsl:text> </xsl:text><xsl:value-of select="key('comment', $item/@def:CommentOID)/odm:Description/odm:TranslatedText"/></xsl:if></td>
    </tr>
  </xsl:template>

  <!-- value-level metadata: each value's definition and the condition it applies under -->
  <!-- one link per page of a space-separated PageRefs list (XSLT 1.0 has no tokenize) -->
  <xsl:template name="page-links">
    <xsl:param name="href"/>
    <xsl:param name="pages"/>
    <xsl:variable name="first" select="substring-before(concat($pages, ' '), ' ')"/>
    <a href="{concat($href, '#page=', $first)}"><xsl:value-of select="$first"/></a>
    <xsl:if test="contains($pages, ' ')">
      <xsl:text> </xsl:text>
      <xsl:call-template name="page-links">
        <xsl:with-param name="href" select="$href"/>
        <xsl:with-param name="pages" select="substring-after($pages, ' ')"/>
      </xsl:call-template>
    </xsl:if>
  </xsl:template>

  <xsl:template match="def:ValueListDef">
    <h3 id="{@OID}"><xsl:value-of select="@OID"/></h3>
    <table>
      <tr><th>Where</th><th>Variable</th><th>Label</th><th>Type</th><th>Length</th><th>Controlled terms</th><th>Origin</th><th>Derivation</th></tr>
      <xsl:for-each select="odm:ItemRef">
        <xsl:variable name="item" select="key('item', @ItemOID)"/>
        <tr>
          <td><xsl:for-each select="key('where', def:WhereClauseRef/@WhereClauseOID)/odm:RangeCheck">
            <xsl:value-of select="concat(key('item', @def:ItemOID)/@Name, ' ', @Comparator, ' ')"/>
            <xsl:for-each select="odm:CheckValue"><xsl:value-of select="."/><xsl:if test="position() != last()">, </xsl:if></xsl:for-each>
            <xsl:if test="position() != last()"> and </xsl:if></xsl:for-each></td>
          <td><xsl:value-of select="$item/@Name"/></td>
          <td><xsl:value-of select="$item/odm:Description/odm:TranslatedText"/></td>
          <td><xsl:value-of select="$item/@DataType"/></td>
          <td><xsl:value-of select="$item/@Length"/></td>
          <td><xsl:if test="$item/odm:CodeListRef"><a href="#{$item/odm:CodeListRef/@CodeListOID}">
            <xsl:value-of select="key('codelist', $item/odm:CodeListRef/@CodeListOID)/@Name"/></a></xsl:if></td>
          <td><xsl:value-of select="$item/def:Origin/@Type"/></td>
          <td><xsl:if test="@MethodOID"><a href="#{@MethodOID}"><xsl:value-of select="key('method', @MethodOID)/@Name"/></a></xsl:if></td>
        </tr>
      </xsl:for-each>
    </table>
  </xsl:template>

  <!-- a codelist with its terms and their NCI codes (or the external dictionary) -->
  <xsl:template match="odm:CodeList">
    <h3 id="{@OID}"><xsl:value-of select="@Name"/>
      <span class="muted"><xsl:value-of select="concat(' [', @DataType)"/>
        <xsl:if test="odm:Alias[@Context='nci:ExtCodeID']">, NCI <xsl:value-of select="odm:Alias[@Context='nci:ExtCodeID']/@Name"/></xsl:if>]</span></h3>
    <xsl:choose>
      <xsl:when test="odm:ExternalCodeList">
        <p>External dictionary: <xsl:value-of select="concat(odm:ExternalCodeList/@Dictionary, ' ', odm:ExternalCodeList/@Version)"/></p>
      </xsl:when>
      <xsl:otherwise>
        <table>
          <tr><th>Term</th><th>Decoded value</th><th>NCI code</th></tr>
          <xsl:for-each select="odm:CodeListItem | odm:EnumeratedItem">
            <tr><td><xsl:value-of select="@CodedValue"/>
                <xsl:if test="@def:ExtendedValue = 'Yes'"> <span class="muted">(sponsor extension)</span></xsl:if></td>
              <td><xsl:value-of select="odm:Decode/odm:TranslatedText"/></td>
              <td><xsl:value-of select="odm:Alias[@Context='nci:ExtCodeID']/@Name"/></td></tr>
          </xsl:for-each>
        </table>
      </xsl:otherwise>
    </xsl:choose>
  </xsl:template>
</xsl:stylesheet>
